//! Elementwise ops of one input, `y = f(x)`, and their derivatives.
//!
//! Each op is a small rule: `f(x)` beside `df(x, y)` = dy/dx, which may use the input `x`, the
//! output `y` or both (tanh's derivative `1 - y²` needs only the output). Backward is the same
//! loop for all of them: `x̄ += ȳ · df(x, y)`.

use crate::float::Float;
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

/// Which elementwise op a node is, with its constants.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Unary<T: Float> {
    Neg,
    Square,
    Pow(T),
    Sqrt,
    Exp,
    Ln,
    Tanh,
    Sigmoid,
    Relu,
    Gelu,
    Softplus,
    Abs,
    Clamp(T, T),
    /// `y = scale · x + shift`
    Affine(T, T),
    /// `y = c / x`
    Over(T),
}

/// An elementwise function and its derivative.
trait Rule<T: Float>: Copy {
    /// y = f(x)
    fn f(self, x: T) -> T;
    /// dy/dx, given the input x and the output y = f(x)
    fn df(self, x: T, y: T) -> T;
}

// Each rule: the forward `f`, then the derivative `df` with its formula above it.

#[derive(Clone, Copy)]
struct Neg;
impl<T: Float> Rule<T> for Neg {
    fn f(self, x: T) -> T {
        -x
    }
    // d(-x)/dx = -1
    fn df(self, _x: T, _y: T) -> T {
        -T::one()
    }
}

#[derive(Clone, Copy)]
struct Square;
impl<T: Float> Rule<T> for Square {
    fn f(self, x: T) -> T {
        x * x
    }
    // d x²/dx = 2x
    fn df(self, x: T, _y: T) -> T {
        x + x
    }
}

#[derive(Clone, Copy)]
struct Pow<T>(T);
impl<T: Float> Rule<T> for Pow<T> {
    fn f(self, x: T) -> T {
        x.powf(self.0)
    }
    // d xᵖ/dx = p xᵖ⁻¹
    fn df(self, x: T, _y: T) -> T {
        self.0 * x.powf(self.0 - T::one())
    }
}

#[derive(Clone, Copy)]
struct Sqrt;
impl<T: Float> Rule<T> for Sqrt {
    fn f(self, x: T) -> T {
        x.sqrt()
    }
    // d √x/dx = 1 / (2√x)
    fn df(self, _x: T, y: T) -> T {
        T::from_f64(0.5) / y
    }
}

#[derive(Clone, Copy)]
struct Exp;
impl<T: Float> Rule<T> for Exp {
    fn f(self, x: T) -> T {
        x.exp()
    }
    // d eˣ/dx = eˣ
    fn df(self, _x: T, y: T) -> T {
        y
    }
}

#[derive(Clone, Copy)]
struct Ln;
impl<T: Float> Rule<T> for Ln {
    fn f(self, x: T) -> T {
        x.ln()
    }
    // d ln x/dx = 1/x
    fn df(self, x: T, _y: T) -> T {
        T::one() / x
    }
}

#[derive(Clone, Copy)]
struct Tanh;
impl<T: Float> Rule<T> for Tanh {
    fn f(self, x: T) -> T {
        x.tanh()
    }
    // d tanh x/dx = 1 - tanh² x
    fn df(self, _x: T, y: T) -> T {
        T::one() - y * y
    }
}

#[derive(Clone, Copy)]
struct Sigmoid;
impl<T: Float> Rule<T> for Sigmoid {
    // σ(x) = 1 / (1 + e⁻ˣ), written so that e^(something) never overflows:
    // for x ≥ 0 use 1 / (1 + e⁻ˣ); for x < 0 use eˣ / (1 + eˣ).
    fn f(self, x: T) -> T {
        if x >= T::zero() {
            T::one() / (T::one() + (-x).exp())
        } else {
            let e = x.exp();
            e / (T::one() + e)
        }
    }
    // dσ/dx = σ (1 - σ)
    fn df(self, _x: T, y: T) -> T {
        y * (T::one() - y)
    }
}

#[derive(Clone, Copy)]
struct Relu;
impl<T: Float> Rule<T> for Relu {
    fn f(self, x: T) -> T {
        if x > T::zero() { x } else { T::zero() }
    }
    // 1 if x > 0 else 0
    fn df(self, x: T, _y: T) -> T {
        if x > T::zero() { T::one() } else { T::zero() }
    }
}

#[derive(Clone, Copy)]
struct Gelu;
impl Gelu {
    /// √(2/π) and the cubic coefficient of the tanh approximation.
    const C: f64 = 0.797_884_560_802_865_4;
    const A: f64 = 0.044_715;
    /// tanh(u) with u = √(2/π)(x + 0.044715 x³).
    fn t<T: Float>(x: T) -> T {
        (T::from_f64(Self::C) * (x + T::from_f64(Self::A) * x * x * x)).tanh()
    }
}
impl<T: Float> Rule<T> for Gelu {
    // gelu(x) ≈ ½ x (1 + tanh(√(2/π)(x + 0.044715 x³)))  (the tanh form of x·Φ(x))
    fn f(self, x: T) -> T {
        T::from_f64(0.5) * x * (T::one() + Gelu::t(x))
    }
    // d gelu/dx = ½(1 + t) + ½ x (1 − t²) √(2/π)(1 + 3·0.044715 x²), t = tanh(u)
    fn df(self, x: T, _y: T) -> T {
        let (half, t) = (T::from_f64(0.5), Gelu::t(x));
        let du = T::from_f64(Gelu::C) * (T::one() + T::from_f64(3.0 * Gelu::A) * x * x);
        half * (T::one() + t) + half * x * (T::one() - t * t) * du
    }
}

#[derive(Clone, Copy)]
struct Softplus;
impl<T: Float> Rule<T> for Softplus {
    // softplus(x) = ln(1 + eˣ) = max(x, 0) + ln(1 + e^-|x|), the second form never overflows.
    fn f(self, x: T) -> T {
        x.max(T::zero()) + (-x.abs()).exp().ln_1p()
    }
    // d softplus/dx = σ(x)
    fn df(self, x: T, _y: T) -> T {
        Sigmoid.f(x)
    }
}

#[derive(Clone, Copy)]
struct Abs;
impl<T: Float> Rule<T> for Abs {
    fn f(self, x: T) -> T {
        x.abs()
    }
    // sign(x)
    fn df(self, x: T, _y: T) -> T {
        if x > T::zero() {
            T::one()
        } else if x < T::zero() {
            -T::one()
        } else {
            T::zero()
        }
    }
}

#[derive(Clone, Copy)]
struct Clamp<T>(T, T);
impl<T: Float> Rule<T> for Clamp<T> {
    fn f(self, x: T) -> T {
        if x < self.0 {
            self.0
        } else if x > self.1 {
            self.1
        } else {
            x
        }
    }
    // 1 inside [lo, hi], else 0
    fn df(self, x: T, _y: T) -> T {
        if x >= self.0 && x <= self.1 {
            T::one()
        } else {
            T::zero()
        }
    }
}

#[derive(Clone, Copy)]
struct Affine<T>(T, T);
impl<T: Float> Rule<T> for Affine<T> {
    fn f(self, x: T) -> T {
        self.0 * x + self.1
    }
    // d(a x + b)/dx = a
    fn df(self, _x: T, _y: T) -> T {
        self.0
    }
}

#[derive(Clone, Copy)]
struct Over<T>(T);
impl<T: Float> Rule<T> for Over<T> {
    fn f(self, x: T) -> T {
        self.0 / x
    }
    // d(c/x)/dx = -c/x² = -y/x
    fn df(self, x: T, y: T) -> T {
        -y / x
    }
}

/// Runs `$body` with `$r` bound to the rule struct of `$kind`: one `match` per op, outside the
/// element loop, so each loop is compiled for its own rule.
macro_rules! with_rule {
    ($kind:expr, $r:ident => $body:expr) => {
        match $kind {
            Unary::Neg => {
                let $r = Neg;
                $body
            }
            Unary::Square => {
                let $r = Square;
                $body
            }
            Unary::Pow(p) => {
                let $r = Pow(p);
                $body
            }
            Unary::Sqrt => {
                let $r = Sqrt;
                $body
            }
            Unary::Exp => {
                let $r = Exp;
                $body
            }
            Unary::Ln => {
                let $r = Ln;
                $body
            }
            Unary::Tanh => {
                let $r = Tanh;
                $body
            }
            Unary::Sigmoid => {
                let $r = Sigmoid;
                $body
            }
            Unary::Relu => {
                let $r = Relu;
                $body
            }
            Unary::Gelu => {
                let $r = Gelu;
                $body
            }
            Unary::Softplus => {
                let $r = Softplus;
                $body
            }
            Unary::Abs => {
                let $r = Abs;
                $body
            }
            Unary::Clamp(lo, hi) => {
                let $r = Clamp(lo, hi);
                $body
            }
            Unary::Affine(a, b) => {
                let $r = Affine(a, b);
                $body
            }
            Unary::Over(c) => {
                let $r = Over(c);
                $body
            }
        }
    };
}

/// y = f(x) elementwise.
fn forward<T: Float, R: Rule<T>>(r: R, x: &Tensor<T>, y: &mut Tensor<T>) {
    y.shape.clear();
    y.shape.extend_from_slice(&x.shape);
    y.data.clear();
    y.data.extend(x.data.iter().map(|&v| r.f(v)));
}

/// x̄ += ȳ · df(x, y) elementwise.
fn pullback<T: Float, R: Rule<T>>(r: R, x: &[T], y: &[T], g: &[T], gx: &mut [T]) {
    for (((d, &xv), &yv), &gv) in gx.iter_mut().zip(x).zip(y).zip(g) {
        *d += gv * r.df(xv, yv);
    }
}

pub(crate) fn backward<T: Float>(
    kind: Unary<T>,
    x: &Tensor<T>,
    y: &Tensor<T>,
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
    a: u32,
) {
    if let Some(gx) = sink.grad(a) {
        with_rule!(kind, r => pullback(r, &x.data, &y.data, &g.data, &mut gx.data))
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Records the elementwise op `kind`.
    #[inline]
    pub(crate) fn unary(self, kind: Unary<T>) -> Self {
        let a = self.index;
        self.tape.record(
            "unary",
            &[self],
            |v, out| with_rule!(kind, r => forward(r, &v[a as usize], out)),
            |_, _| crate::node::Op::Unary(kind, a),
        )
    }

    /// −x. d(−x)/dx = −1.
    #[allow(clippy::should_implement_trait)] // the operator `-x` calls this
    pub fn neg(self) -> Self {
        self.unary(Unary::Neg)
    }

    /// x². d x²/dx = 2x.
    pub fn square(self) -> Self {
        self.unary(Unary::Square)
    }

    /// xᵖ for a constant exponent p. d xᵖ/dx = p xᵖ⁻¹. (Non-integer p needs x > 0.)
    pub fn powf(self, p: T) -> Self {
        self.unary(Unary::Pow(p))
    }

    /// √x. d √x/dx = 1 / (2√x).
    pub fn sqrt(self) -> Self {
        self.unary(Unary::Sqrt)
    }

    /// eˣ. d eˣ/dx = eˣ (the rule reuses the output).
    pub fn exp(self) -> Self {
        self.unary(Unary::Exp)
    }

    /// ln x (natural logarithm). d ln x/dx = 1/x.
    pub fn ln(self) -> Self {
        self.unary(Unary::Ln)
    }

    /// tanh x. d tanh x/dx = 1 − tanh² x (the rule keeps the output, not the input).
    pub fn tanh(self) -> Self {
        self.unary(Unary::Tanh)
    }

    /// σ(x) = 1 / (1 + e⁻ˣ), computed without overflow. dσ/dx = σ(x)(1 − σ(x)).
    pub fn sigmoid(self) -> Self {
        self.unary(Unary::Sigmoid)
    }

    /// max(x, 0). d relu/dx = 1 for x > 0, else 0 (0 at the kink).
    pub fn relu(self) -> Self {
        self.unary(Unary::Relu)
    }

    /// GELU, tanh form: `gelu(x) = ½ x (1 + tanh u)` with `u = √(2/π)(x + 0.044715 x³)`, the
    /// usual approximation of `x·Φ(x)` (Φ the standard normal CDF) used by GPT-2.
    /// `d gelu/dx = ½(1 + tanh u) + ½ x (1 − tanh² u) √(2/π)(1 + 0.134145 x²)`.
    ///
    /// ```
    /// use autograd::{Tape, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.param(&Tensor::from_vec(vec![0.0, 1.0], &[2]));
    /// let y = x.gelu();
    /// assert_eq!(y.value().data()[0], 0.0);
    /// assert!((y.value().data()[1] - 0.841192).abs() < 1e-6); // ½(1 + tanh(0.83356))
    /// assert_eq!(y.sum().backward()[x].data()[0], 0.5); // slope ½ at 0
    /// ```
    pub fn gelu(self) -> Self {
        self.unary(Unary::Gelu)
    }

    /// softplus(x) = ln(1 + eˣ), computed as max(x, 0) + ln(1 + e^−|x|). d softplus/dx = σ(x).
    pub fn softplus(self) -> Self {
        self.unary(Unary::Softplus)
    }

    /// |x|. d|x|/dx = sign(x) (0 at the kink).
    pub fn abs(self) -> Self {
        self.unary(Unary::Abs)
    }

    /// min(max(x, lo), hi). d clamp/dx = 1 for lo ≤ x ≤ hi, else 0.
    ///
    /// # Panics
    /// If `lo > hi`.
    pub fn clamp(self, lo: T, hi: T) -> Self {
        assert!(
            lo <= hi,
            "clamp: expected lo <= hi, got lo = {lo}, hi = {hi}"
        );
        self.unary(Unary::Clamp(lo, hi))
    }

    /// a·x + b for constants a and b (what `x * 2.0 + 1.0` records as two nodes, in one).
    /// d(a x + b)/dx = a.
    pub fn affine(self, a: T, b: T) -> Self {
        self.unary(Unary::Affine(a, b))
    }

    /// c / x for a constant c. d(c/x)/dx = −c/x².
    pub fn rdiv_scalar(self, c: T) -> Self {
        self.unary(Unary::Over(c))
    }
}
