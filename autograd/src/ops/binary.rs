//! Elementwise ops of two inputs with NumPy broadcasting: add, sub, mul, div, maximum, minimum.
//!
//! Forward pairs each output element with one element of each input (see `shape.rs`).
//! Backward computes each input's local gradient at the output's shape, `ȳ · ∂f/∂a`, and hands it
//! to the one helper that undoes broadcasting, `sum_to_shape`, which sums it back to the input's
//! shape.

use crate::backward::Sink;
use crate::float::Float;
use crate::shape::{broadcast_shape_into, for_each_broadcast, same_shape, sum_to_shape};
use crate::tensor::Tensor;
use crate::var::Var;

/// Which two-input op a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Maximum,
    Minimum,
}

impl Binary {
    fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "sub",
            Binary::Mul => "mul",
            Binary::Div => "div",
            Binary::Maximum => "maximum",
            Binary::Minimum => "minimum",
        }
    }
}

/// A two-input elementwise function and its partial derivatives.
trait Rule<T: Float>: Copy {
    /// y = f(a, b)
    fn f(self, a: T, b: T) -> T;
    /// ∂y/∂a
    fn da(self, a: T, b: T) -> T;
    /// ∂y/∂b
    fn db(self, a: T, b: T) -> T;
}

#[derive(Clone, Copy)]
struct Add;
impl<T: Float> Rule<T> for Add {
    fn f(self, a: T, b: T) -> T {
        a + b
    }
    // ∂(a+b)/∂a = 1
    fn da(self, _a: T, _b: T) -> T {
        T::one()
    }
    // ∂(a+b)/∂b = 1
    fn db(self, _a: T, _b: T) -> T {
        T::one()
    }
}

#[derive(Clone, Copy)]
struct Sub;
impl<T: Float> Rule<T> for Sub {
    fn f(self, a: T, b: T) -> T {
        a - b
    }
    // ∂(a−b)/∂a = 1
    fn da(self, _a: T, _b: T) -> T {
        T::one()
    }
    // ∂(a−b)/∂b = −1
    fn db(self, _a: T, _b: T) -> T {
        -T::one()
    }
}

#[derive(Clone, Copy)]
struct Mul;
impl<T: Float> Rule<T> for Mul {
    fn f(self, a: T, b: T) -> T {
        a * b
    }
    // ∂(ab)/∂a = b
    fn da(self, _a: T, b: T) -> T {
        b
    }
    // ∂(ab)/∂b = a
    fn db(self, a: T, _b: T) -> T {
        a
    }
}

#[derive(Clone, Copy)]
struct Div;
impl<T: Float> Rule<T> for Div {
    fn f(self, a: T, b: T) -> T {
        a / b
    }
    // ∂(a/b)/∂a = 1/b
    fn da(self, _a: T, b: T) -> T {
        T::one() / b
    }
    // ∂(a/b)/∂b = −a/b²
    fn db(self, a: T, b: T) -> T {
        -a / (b * b)
    }
}

#[derive(Clone, Copy)]
struct Maximum;
impl<T: Float> Rule<T> for Maximum {
    fn f(self, a: T, b: T) -> T {
        if a >= b { a } else { b }
    }
    // The gradient goes to the larger input; a tie sends it to `a`.
    fn da(self, a: T, b: T) -> T {
        if a >= b { T::one() } else { T::zero() }
    }
    fn db(self, a: T, b: T) -> T {
        if a >= b { T::zero() } else { T::one() }
    }
}

#[derive(Clone, Copy)]
struct Minimum;
impl<T: Float> Rule<T> for Minimum {
    fn f(self, a: T, b: T) -> T {
        if a <= b { a } else { b }
    }
    // The gradient goes to the smaller input; a tie sends it to `a`.
    fn da(self, a: T, b: T) -> T {
        if a <= b { T::one() } else { T::zero() }
    }
    fn db(self, a: T, b: T) -> T {
        if a <= b { T::zero() } else { T::one() }
    }
}

/// Runs `$body` with `$r` bound to the rule of `$kind` (one match per op, outside the loops).
macro_rules! with_rule {
    ($kind:expr, $r:ident => $body:expr) => {
        match $kind {
            Binary::Add => {
                let $r = Add;
                $body
            }
            Binary::Sub => {
                let $r = Sub;
                $body
            }
            Binary::Mul => {
                let $r = Mul;
                $body
            }
            Binary::Div => {
                let $r = Div;
                $body
            }
            Binary::Maximum => {
                let $r = Maximum;
                $body
            }
            Binary::Minimum => {
                let $r = Minimum;
                $body
            }
        }
    };
}

/// y = f(a, b) with broadcasting; panics naming the op and both shapes if they do not broadcast.
fn forward<T: Float, R: Rule<T>>(
    r: R,
    name: &str,
    a: &Tensor<T>,
    b: &Tensor<T>,
    y: &mut Tensor<T>,
) {
    broadcast_shape_into(name, &a.shape, &b.shape, &mut y.shape);
    let n = y.shape.iter().product();
    y.data.resize(n, T::zero());
    let (ad, bd, yd) = (&a.data, &b.data, &mut y.data);
    for_each_broadcast(&y.shape, &a.shape, &b.shape, |k, ia, ib| {
        yd[k] = r.f(ad[ia], bd[ib])
    });
}

/// ā += sum_to_shape(ȳ · ∂f/∂a), b̄ += sum_to_shape(ȳ · ∂f/∂b).
#[allow(clippy::too_many_arguments)]
fn pullback<T: Float, R: Rule<T>>(
    r: R,
    a: &Tensor<T>,
    b: &Tensor<T>,
    y: &Tensor<T>,
    g: &Tensor<T>,
    ga: Option<&mut Tensor<T>>,
    which_b: bool,
    scratch: &mut Vec<T>,
) {
    let Some(gx) = ga else { return };
    let (ad, bd, gd) = (&a.data, &b.data, &g.data);
    let local = |ia: usize, ib: usize| {
        if which_b {
            r.db(ad[ia], bd[ib])
        } else {
            r.da(ad[ia], bd[ib])
        }
    };
    let x_shape = if which_b { &b.shape } else { &a.shape };
    if same_shape(x_shape, &y.shape) {
        // Same shape as the output: nothing to undo, add in place.
        let gxd = &mut gx.data;
        for_each_broadcast(&y.shape, &a.shape, &b.shape, |k, ia, ib| {
            gxd[k] += gd[k] * local(ia, ib)
        });
    } else {
        scratch.clear();
        scratch.resize(g.data.len(), T::zero());
        for_each_broadcast(&y.shape, &a.shape, &b.shape, |k, ia, ib| {
            scratch[k] = gd[k] * local(ia, ib)
        });
        sum_to_shape(scratch, &y.shape, &mut gx.data, x_shape);
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Float>(
    kind: Binary,
    values: &[Tensor<T>],
    y: &Tensor<T>,
    g: &Tensor<T>,
    sink: &mut Sink<'_, T>,
    scratch: &mut Vec<T>,
    a: u32,
    b: u32,
) {
    let (av, bv) = (&values[a as usize], &values[b as usize]);
    with_rule!(kind, r => {
        pullback(r, av, bv, y, g, sink.grad(a), false, scratch);
        pullback(r, av, bv, y, g, sink.grad(b), true, scratch);
    })
}

impl<'t, T: Float> Var<'t, T> {
    /// Records the broadcasting op `kind` on `self` and `o`.
    #[inline]
    fn binary(self, o: Self, kind: Binary) -> Self {
        let (a, b) = (self.index, o.index);
        self.tape.record(
            kind.name(),
            &[self, o],
            |v, out| {
                let (av, bv) = (&v[a as usize], &v[b as usize]);
                with_rule!(kind, r => forward(r, kind.name(), av, bv, out))
            },
            |_, _| crate::tape::Op::Binary(kind, a, b),
        )
    }

    /// a + b with NumPy broadcasting. ∂/∂a = 1, ∂/∂b = 1.
    ///
    /// # Panics
    /// If the shapes do not broadcast; the message names the op and both shapes.
    #[allow(clippy::should_implement_trait)] // the operator `+` calls this
    pub fn add(self, o: Self) -> Self {
        self.binary(o, Binary::Add)
    }

    /// a − b with broadcasting. ∂/∂a = 1, ∂/∂b = −1.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[allow(clippy::should_implement_trait)] // the operator `-` calls this
    pub fn sub(self, o: Self) -> Self {
        self.binary(o, Binary::Sub)
    }

    /// a · b elementwise with broadcasting. ∂/∂a = b, ∂/∂b = a.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[allow(clippy::should_implement_trait)] // the operator `*` calls this
    pub fn mul(self, o: Self) -> Self {
        self.binary(o, Binary::Mul)
    }

    /// a / b elementwise with broadcasting. ∂/∂a = 1/b, ∂/∂b = −a/b².
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    #[allow(clippy::should_implement_trait)] // the operator `/` calls this
    pub fn div(self, o: Self) -> Self {
        self.binary(o, Binary::Div)
    }

    /// max(a, b) elementwise with broadcasting. The gradient flows to the larger input (to `a`
    /// on a tie): `∂/∂a = 1 if a ≥ b else 0`, `∂/∂b = 1 if a < b else 0`.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    pub fn maximum(self, o: Self) -> Self {
        self.binary(o, Binary::Maximum)
    }

    /// min(a, b) elementwise with broadcasting. The gradient flows to the smaller input (to `a`
    /// on a tie): `∂/∂a = 1 if a ≤ b else 0`, `∂/∂b = 1 if a > b else 0`.
    ///
    /// # Panics
    /// If the shapes do not broadcast.
    pub fn minimum(self, o: Self) -> Self {
        self.binary(o, Binary::Minimum)
    }
}
