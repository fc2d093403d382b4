//! Elementwise ops of one input, `y = f(x)`, and their derivatives: each op written once.
//!
//! Every op is one entry of the table at the bottom of this file: the method's doc comment (which
//! states the derivative), the forward `f(x)`, and the derivative `df(x, y)` = dy/dx, which may use
//! the input `x`, the output `y` or both (tanh's derivative `1 - y²` needs only the output). Ops
//! with constants name them after the method (`powf(p)`, `clamp(lo, hi)`), and `f` and `df` use
//! them by those names. Adding an op is adding one entry.
//!
//! Backward is the same loop for all of them: `x̄ += ȳ · df(x, y)`. The table's macro turns each
//! entry into a small type implementing `Rule`, so the forward and backward loops are compiled
//! for each op with its `f` and `df` inlined, and numbers the ops: a node keeps its op's number,
//! so the tape's vocabulary (`node.rs`) needs no list of elementwise ops.

use crate::float::Float;
use crate::node::Op;
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

/// An elementwise function and its derivative. `c` holds the op's constants (at most two; unused
/// ones are zero).
trait Rule<T: Float> {
    /// The op's name, for error messages.
    const NAME: &'static str;
    /// y = f(x)
    fn f(x: T, c: [T; 2]) -> T;
    /// dy/dx, given the input x and the output y = f(x)
    fn df(x: T, y: T, c: [T; 2]) -> T;
}

/// y = f(x) elementwise.
fn forward<T: Float, R: Rule<T>>(c: [T; 2], x: &Tensor<T>, y: &mut Tensor<T>) {
    y.shape.clear();
    y.shape.extend_from_slice(&x.shape);
    y.data.clear();
    y.data.extend(x.data.iter().map(|&v| R::f(v, c)));
}

/// x̄ += ȳ · df(x, y) elementwise.
fn pullback<T: Float, R: Rule<T>>(c: [T; 2], x: &[T], y: &[T], g: &[T], gx: &mut [T]) {
    for (((d, &xv), &yv), &gv) in gx.iter_mut().zip(x).zip(y).zip(g) {
        *d += gv * R::df(xv, yv, c);
    }
}

impl<'t, T: Float> Var<'t, T> {
    /// Records the elementwise op `kind` (of rule `R`) with constants `c`.
    #[inline]
    fn unary<R: Rule<T>>(self, kind: Kind, c: [T; 2]) -> Self {
        let a = self.index;
        self.tape.record(
            R::NAME,
            &[self],
            |v, out| forward::<T, R>(c, &v[a as usize], out),
            |_, _| Op::Unary {
                x: a,
                kind: kind as u8,
                consts: c,
            },
        )
    }
}

/// Turns the table below into code. Each entry
/// `fn name(consts) as Name { f: |x| .., df: |x, y| .. }` becomes a type `Name` implementing
/// `Rule`, a variant `Kind::Name` (the number a node keeps), the method `Var::name`, and an arm
/// of `backward`. An entry may start with `check: expr,` to validate its constants before
/// recording.
macro_rules! elementwise {
    ($(
        $(#[$attr:meta])*
        fn $name:ident($($c:ident),*) as $Rule:ident {
            $(check: $check:expr,)?
            f: |$x:ident| $f:expr,
            df: |$dx:pat_param, $dy:pat_param| $df:expr $(,)?
        }
    )*) => {
        $(
            struct $Rule;
            impl<T: Float> Rule<T> for $Rule {
                const NAME: &'static str = stringify!($name);
                #[inline(always)]
                #[allow(unused_variables)]
                fn f($x: T, c: [T; 2]) -> T {
                    elementwise!(@bind c; $($c),*);
                    $f
                }
                #[inline(always)]
                #[allow(unused_variables)]
                fn df($dx: T, $dy: T, c: [T; 2]) -> T {
                    elementwise!(@bind c; $($c),*);
                    $df
                }
            }
        )*

        /// Every elementwise op, in table order; a node keeps its op's number (`kind as u8`).
        #[derive(Clone, Copy)]
        enum Kind {
            $($Rule),*
        }

        /// Each op's number, as a constant that `backward` can match on.
        #[allow(non_upper_case_globals)]
        mod number {
            $(pub(super) const $Rule: u8 = super::Kind::$Rule as u8;)*
        }

        impl<'t, T: Float> Var<'t, T> {
            $(
                $(#[$attr])*
                pub fn $name(self $(, $c: T)*) -> Self {
                    $($check;)?
                    self.unary::<$Rule>(Kind::$Rule, elementwise!(@consts $($c),*))
                }
            )*
        }

        /// Backward of an elementwise node of op number `kind` with input `a`: the loop
        /// `x̄ += ȳ · df(x, y)` of that op's rule.
        pub(crate) fn backward<T: Float>(
            kind: u8,
            c: [T; 2],
            x: &Tensor<T>,
            y: &Tensor<T>,
            g: &Tensor<T>,
            sink: &mut Sink<'_, T>,
            a: u32,
        ) {
            let Some(gx) = sink.grad(a) else { return };
            let (x, y, g, gx) = (&x.data, &y.data, &g.data, &mut gx.data);
            match kind {
                $(number::$Rule => pullback::<T, $Rule>(c, x, y, g, gx),)*
                _ => unreachable!("no elementwise op has number {kind}"),
            }
        }
    };
    // The constants as the array a node keeps, and back as names inside `f` and `df`.
    (@consts) => { [T::zero(), T::zero()] };
    (@consts $a:ident) => { [$a, T::zero()] };
    (@consts $a:ident, $b:ident) => { [$a, $b] };
    (@bind $c:ident;) => { let _ = $c; };
    (@bind $c:ident; $a:ident) => { let [$a, _] = $c; };
    (@bind $c:ident; $a:ident, $b:ident) => { let [$a, $b] = $c; };
}

/// σ(x) = 1 / (1 + e⁻ˣ), written so that e^(something) never overflows:
/// for x ≥ 0 use 1 / (1 + e⁻ˣ); for x < 0 use eˣ / (1 + eˣ). (Also softplus's derivative.)
fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// √(2/π) and the cubic coefficient of GELU's tanh approximation.
const GELU_C: f64 = 0.797_884_560_802_865_4;
const GELU_A: f64 = 0.044_715;

/// tanh(u) with u = √(2/π)(x + 0.044715 x³), the inner term of GELU.
fn gelu_t<T: Float>(x: T) -> T {
    (T::from_f64(GELU_C) * (x + T::from_f64(GELU_A) * x * x * x)).tanh()
}

// The table: each op's doc, its forward `f`, then its derivative `df` with the formula beside it.
elementwise! {
    /// −x. d(−x)/dx = −1.
    #[allow(clippy::should_implement_trait)] // the operator `-x` calls this
    fn neg() as Neg {
        f: |x| -x,
        df: |_x, _y| -T::one(), // d(-x)/dx = -1
    }

    /// x². d x²/dx = 2x.
    fn square() as Square {
        f: |x| x * x,
        df: |x, _y| x + x, // d x²/dx = 2x
    }

    /// xᵖ for a constant exponent p. d xᵖ/dx = p xᵖ⁻¹. (Non-integer p needs x > 0.)
    fn powf(p) as Pow {
        f: |x| x.powf(p),
        df: |x, _y| p * x.powf(p - T::one()), // d xᵖ/dx = p xᵖ⁻¹
    }

    /// √x. d √x/dx = 1 / (2√x).
    fn sqrt() as Sqrt {
        f: |x| x.sqrt(),
        df: |_x, y| T::from_f64(0.5) / y, // d √x/dx = 1 / (2√x)
    }

    /// eˣ. d eˣ/dx = eˣ (the rule reuses the output).
    fn exp() as Exp {
        f: |x| x.exp(),
        df: |_x, y| y, // d eˣ/dx = eˣ
    }

    /// ln x (natural logarithm). d ln x/dx = 1/x.
    fn ln() as Ln {
        f: |x| x.ln(),
        df: |x, _y| T::one() / x, // d ln x/dx = 1/x
    }

    /// tanh x. d tanh x/dx = 1 − tanh² x (the rule keeps the output, not the input).
    fn tanh() as Tanh {
        f: |x| x.tanh(),
        df: |_x, y| T::one() - y * y, // d tanh x/dx = 1 - tanh² x
    }

    /// σ(x) = 1 / (1 + e⁻ˣ), computed without overflow. dσ/dx = σ(x)(1 − σ(x)).
    fn sigmoid() as Sigmoid {
        f: |x| sigmoid(x),
        df: |_x, y| y * (T::one() - y), // dσ/dx = σ (1 - σ)
    }

    /// max(x, 0). d relu/dx = 1 for x > 0, else 0 (0 at the kink).
    fn relu() as Relu {
        f: |x| if x > T::zero() { x } else { T::zero() },
        df: |x, _y| if x > T::zero() { T::one() } else { T::zero() }, // 1 if x > 0 else 0
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
    fn gelu() as Gelu {
        f: |x| T::from_f64(0.5) * x * (T::one() + gelu_t(x)),
        // d gelu/dx = ½(1 + t) + ½ x (1 − t²) √(2/π)(1 + 3·0.044715 x²), t = tanh(u)
        df: |x, _y| {
            let (half, t) = (T::from_f64(0.5), gelu_t(x));
            let du = T::from_f64(GELU_C) * (T::one() + T::from_f64(3.0 * GELU_A) * x * x);
            half * (T::one() + t) + half * x * (T::one() - t * t) * du
        },
    }

    /// softplus(x) = ln(1 + eˣ), computed as max(x, 0) + ln(1 + e^−|x|). d softplus/dx = σ(x).
    fn softplus() as Softplus {
        // ln(1 + eˣ) = max(x, 0) + ln(1 + e^-|x|): the second form never overflows.
        f: |x| x.max(T::zero()) + (-x.abs()).exp().ln_1p(),
        df: |x, _y| sigmoid(x), // d softplus/dx = σ(x)
    }

    /// |x|. d|x|/dx = sign(x) (0 at the kink).
    fn abs() as Abs {
        f: |x| x.abs(),
        // sign(x)
        df: |x, _y| {
            if x > T::zero() {
                T::one()
            } else if x < T::zero() {
                -T::one()
            } else {
                T::zero()
            }
        },
    }

    /// min(max(x, lo), hi). d clamp/dx = 1 for lo ≤ x ≤ hi, else 0.
    ///
    /// # Panics
    /// If `lo > hi`.
    fn clamp(lo, hi) as Clamp {
        check: assert!(
            lo <= hi,
            "clamp: expected lo <= hi, got lo = {lo}, hi = {hi}"
        ),
        f: |x| {
            if x < lo {
                lo
            } else if x > hi {
                hi
            } else {
                x
            }
        },
        // 1 inside [lo, hi], else 0
        df: |x, _y| if x >= lo && x <= hi { T::one() } else { T::zero() },
    }

    /// a·x + b for constants a and b (what `x * 2.0 + 1.0` records as two nodes, in one).
    /// d(a x + b)/dx = a.
    fn affine(a, b) as Affine {
        f: |x| a * x + b,
        df: |_x, _y| a, // d(a x + b)/dx = a
    }

    /// c / x for a constant c. d(c/x)/dx = −c/x².
    fn rdiv_scalar(c) as Over {
        f: |x| c / x,
        df: |x, y| -y / x, // d(c/x)/dx = -c/x² = -y/x
    }
}
