//! Elementwise ops of two inputs with NumPy broadcasting: add, sub, mul, div, maximum, minimum.
//!
//! Forward pairs each output element with one element of each input (see `shape.rs`).
//! Backward computes each input's local gradient at the output's shape, `ȳ · ∂f/∂a`, and hands it
//! to the one helper that undoes broadcasting, `sum_to_shape`, which sums it back to the input's
//! shape.

use crate::custom::Store;
use crate::float::Float;
use crate::node::{Binary, Op};
use crate::shape::{broadcast_shape_into, for_each_broadcast, same_shape, sum_to_shape};
use crate::sink::Sink;
use crate::tensor::Tensor;
use crate::var::Var;

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
    if same_shape(&a.shape, &b.shape) {
        // No broadcasting: one zip over both inputs.
        y.shape.clear();
        y.shape.extend_from_slice(&a.shape);
        y.data.clear();
        y.data
            .extend(a.data.iter().zip(&b.data).map(|(&u, &v)| r.f(u, v)));
        return;
    }
    broadcast_shape_into(name, &a.shape, &b.shape, &mut y.shape);
    let n = y.shape.iter().product();
    y.data.resize(n, T::zero());
    let (ad, bd, yd) = (&a.data, &b.data, &mut y.data);
    for_each_broadcast(&y.shape, &a.shape, &b.shape, |k, ia, ib| {
        yd[k] = r.f(ad[ia], bd[ib])
    });
}

/// x̄ += sum_to_shape(ȳ · ∂f/∂x) for one input x (shape `x_shape`) of `f(a, b)`, where
/// `local(a, b)` is ∂f/∂x. When x was not broadcast and `store` is [`Store::Overwrite`] (the
/// first write of x̄ in the pass), x̄ is written with `=` instead, skipping its zero fill.
#[allow(clippy::too_many_arguments)]
fn pullback<T: Float>(
    a: &Tensor<T>,
    b: &Tensor<T>,
    y_shape: &[usize],
    g: &[T],
    (gx, store): (&mut Tensor<T>, Store),
    x_shape: &[usize],
    local: impl Fn(T, T) -> T,
    scratch: &mut Vec<T>,
) {
    let (ad, bd) = (&a.data, &b.data);
    let overwrite = store == Store::Overwrite;
    if same_shape(&a.shape, &b.shape) {
        // No broadcasting: everything has the output's shape.
        let terms = gx.data.iter_mut().zip(g).zip(ad).zip(bd);
        if overwrite {
            terms.for_each(|(((d, &gv), &u), &v)| *d = gv * local(u, v));
        } else {
            terms.for_each(|(((d, &gv), &u), &v)| *d += gv * local(u, v));
        }
    } else if same_shape(x_shape, y_shape) {
        // Only the other input was broadcast: nothing to undo for this one.
        let gxd = &mut gx.data;
        if overwrite {
            for_each_broadcast(y_shape, &a.shape, &b.shape, |k, ia, ib| {
                gxd[k] = g[k] * local(ad[ia], bd[ib])
            });
        } else {
            for_each_broadcast(y_shape, &a.shape, &b.shape, |k, ia, ib| {
                gxd[k] += g[k] * local(ad[ia], bd[ib])
            });
        }
    } else {
        // The local gradient at the output's shape, then summed back to x's shape.
        scratch.clear();
        scratch.resize(g.len(), T::zero());
        for_each_broadcast(y_shape, &a.shape, &b.shape, |k, ia, ib| {
            scratch[k] = g[k] * local(ad[ia], bd[ib])
        });
        if overwrite {
            gx.fill(T::zero());
        }
        sum_to_shape(scratch, y_shape, &mut gx.data, x_shape);
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
        if let Some(ga) = sink.grad_slot(a) {
            pullback(av, bv, &y.shape, &g.data, ga, &av.shape, |u, v| r.da(u, v), scratch);
        }
        if let Some(gb) = sink.grad_slot(b) {
            pullback(av, bv, &y.shape, &g.data, gb, &bv.shape, |u, v| r.db(u, v), scratch);
        }
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
            |_, _| Op::Binary(kind, a, b),
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
