//! [`Tensor`]: an owned, contiguous, row-major n-dimensional array, and [`ShapeError`].
//!
//! A tensor is a flat `Vec<T>` plus a shape. Row-major means the last index varies fastest: the
//! element at index `[i, j]` of a `[rows, cols]` tensor lives at `data[i * cols + j]`. A tensor of
//! shape `[]` is a scalar with one element.

use crate::float::Float;
use rand::Rng;
use std::fmt;

/// A shape that does not fit the data (or an index that does not fit the shape).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShapeError {
    /// The data has `len` elements but the shape `shape` needs `expected`.
    LengthMismatch {
        /// The shape that was asked for.
        shape: Vec<usize>,
        /// How many elements that shape holds.
        expected: usize,
        /// How many elements the data has.
        len: usize,
    },
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShapeError::LengthMismatch {
                shape,
                expected,
                len,
            } => write!(
                f,
                "data of length {len} does not fit shape {shape:?}, which holds {expected} elements"
            ),
        }
    }
}

impl std::error::Error for ShapeError {}

/// Number of elements a shape holds (1 for the scalar shape `[]`).
pub(crate) fn numel_of(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// An owned, contiguous, row-major n-dimensional array of `f32` or `f64`.
///
/// ```
/// use autograd::Tensor;
/// let t = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
/// assert_eq!(t.shape(), &[2, 3]);
/// assert_eq!(t.get(&[1, 0]), 4.0);
/// assert_eq!(format!("{t}"), "[[1, 2, 3],\n [4, 5, 6]]");
/// ```
#[derive(Clone, PartialEq)]
pub struct Tensor<T: Float> {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Vec<T>,
}

impl<T: Float> Tensor<T> {
    /// An unsized buffer that owns no heap memory (shape `[]`, no data): the state of a slot
    /// before its first use. Not a valid tensor until [`resize`](Tensor::resize)d or filled.
    pub(crate) fn placeholder() -> Self {
        Tensor {
            shape: Vec::new(),
            data: Vec::new(),
        }
    }

    /// A tensor with no elements and shape `[0]`; used as a reusable buffer before it is sized.
    pub fn empty() -> Self {
        Tensor {
            shape: vec![0],
            data: Vec::new(),
        }
    }

    /// A tensor of the given shape filled with `value`.
    pub fn full(shape: &[usize], value: T) -> Self {
        Tensor {
            shape: shape.to_vec(),
            data: vec![value; numel_of(shape)],
        }
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, T::zero())
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, T::one())
    }

    /// A scalar: shape `[]`, one element.
    pub fn scalar(value: T) -> Self {
        Tensor {
            shape: Vec::new(),
            data: vec![value],
        }
    }

    /// Wraps `data` (row-major) with `shape`, or explains why it does not fit.
    pub fn try_from_vec(data: Vec<T>, shape: &[usize]) -> Result<Self, ShapeError> {
        let expected = numel_of(shape);
        if data.len() != expected {
            return Err(ShapeError::LengthMismatch {
                shape: shape.to_vec(),
                expected,
                len: data.len(),
            });
        }
        Ok(Tensor {
            shape: shape.to_vec(),
            data,
        })
    }

    /// Wraps `data` (row-major) with `shape`.
    ///
    /// # Panics
    /// If the length of `data` is not the number of elements of `shape`; the message names both.
    pub fn from_vec(data: Vec<T>, shape: &[usize]) -> Self {
        match Self::try_from_vec(data, shape) {
            Ok(t) => t,
            Err(e) => panic!("Tensor::from_vec: {e}"),
        }
    }

    /// Copies `data` (row-major) into a new tensor of `shape`.
    ///
    /// # Panics
    /// If the length of `data` is not the number of elements of `shape`.
    pub fn from_slice(data: &[T], shape: &[usize]) -> Self {
        let expected = numel_of(shape);
        assert!(
            data.len() == expected,
            "Tensor::from_slice: data of length {} does not fit shape {shape:?}, which holds {expected} elements",
            data.len()
        );
        Tensor {
            shape: shape.to_vec(),
            data: data.to_vec(),
        }
    }

    /// Samples every element from the standard normal distribution N(0, 1).
    ///
    /// Uses the Box–Muller transform on uniform draws from `rng`: with `u1, u2` uniform in (0, 1],
    /// `sqrt(-2 ln u1) * cos(2π u2)` is standard normal. Same seed, same bits.
    pub fn randn<R: Rng + ?Sized>(shape: &[usize], rng: &mut R) -> Self {
        let n = numel_of(shape);
        let mut data = Vec::with_capacity(n);
        while data.len() < n {
            // 1 - gen() lies in (0, 1], so the logarithm is finite.
            let u1: f64 = 1.0 - rng.r#gen::<f64>();
            let u2: f64 = rng.r#gen::<f64>();
            let r = (-2.0 * u1.ln()).sqrt();
            let theta = 2.0 * std::f64::consts::PI * u2;
            data.push(T::from_f64(r * theta.cos()));
            if data.len() < n {
                data.push(T::from_f64(r * theta.sin()));
            }
        }
        Tensor {
            shape: shape.to_vec(),
            data,
        }
    }

    /// Samples every element uniformly from `[low, high)` (all equal to `low` when `low == high`).
    ///
    /// Each element is `low + (high − low)·u` with `u` uniform in `[0, 1)`, computed in `f64`.
    /// Rounding that to `f32` can land on `high` itself; such a draw is rejected and drawn again,
    /// so `high` is never returned.
    ///
    /// # Panics
    /// If `low > high` or either bound is not finite.
    pub fn rand_uniform<R: Rng + ?Sized>(shape: &[usize], low: T, high: T, rng: &mut R) -> Self {
        assert!(
            low.is_finite() && high.is_finite() && low <= high,
            "Tensor::rand_uniform: expected finite bounds with low <= high, got low = {low}, high = {high}"
        );
        let (lo, hi) = (low.to_f64(), high.to_f64());
        let mut draw = || loop {
            let x = T::from_f64(lo + (hi - lo) * rng.r#gen::<f64>());
            if x < high || low == high {
                return x;
            }
        };
        let data = (0..numel_of(shape)).map(|_| draw()).collect();
        Tensor {
            shape: shape.to_vec(),
            data,
        }
    }

    /// The shape: one length per axis; `[]` for a scalar.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements in row-major order.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The elements in row-major order, writable (the shape cannot change through this).
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Number of elements (the product of the shape; 1 for a scalar).
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// Number of axes (0 for a scalar).
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// The single element of a one-element tensor.
    ///
    /// # Panics
    /// If the tensor does not hold exactly one element.
    pub fn item(&self) -> T {
        assert!(
            self.data.len() == 1,
            "Tensor::item: expected exactly one element, got shape {:?} with {} elements",
            self.shape,
            self.data.len()
        );
        self.data[0]
    }

    /// Row-major offset of a multi-index.
    fn offset(&self, index: &[usize]) -> usize {
        assert!(
            index.len() == self.shape.len(),
            "Tensor::get: index {index:?} has {} axes but the shape {:?} has {}",
            index.len(),
            self.shape,
            self.shape.len()
        );
        let mut off = 0;
        for (axis, (&i, &n)) in index.iter().zip(&self.shape).enumerate() {
            assert!(
                i < n,
                "Tensor::get: index {index:?} is out of bounds for shape {:?} (axis {axis})",
                self.shape
            );
            off = off * n + i;
        }
        off
    }

    /// The element at a multi-index (one entry per axis; `&[]` for a scalar).
    ///
    /// # Panics
    /// If the index has the wrong number of axes or is out of bounds.
    pub fn get(&self, index: &[usize]) -> T {
        self.data[self.offset(index)]
    }

    /// Sets the element at a multi-index.
    ///
    /// # Panics
    /// If the index has the wrong number of axes or is out of bounds.
    pub fn set(&mut self, index: &[usize], value: T) {
        let off = self.offset(index);
        self.data[off] = value;
    }

    /// Consumes the tensor and returns its elements in row-major order.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// Changes the shape without touching the data.
    ///
    /// # Panics
    /// If the new shape holds a different number of elements; the message names both shapes.
    pub fn reshape_in_place(&mut self, shape: &[usize]) {
        assert!(
            numel_of(shape) == self.data.len(),
            "Tensor::reshape_in_place: cannot view shape {:?} ({} elements) as shape {shape:?} ({} elements)",
            self.shape,
            self.data.len(),
            numel_of(shape)
        );
        self.shape.clear();
        self.shape.extend_from_slice(shape);
    }

    /// Reuses this tensor's buffers for a new shape. Contents are unspecified afterwards (old
    /// values, then zeros where the buffer grew). Does not allocate when the capacity suffices.
    pub fn resize(&mut self, shape: &[usize]) {
        self.shape.clear();
        self.shape.extend_from_slice(shape);
        self.data.resize(numel_of(shape), T::zero());
    }

    /// Makes this tensor an exact copy of `src`, reusing its own buffers.
    pub fn copy_from(&mut self, src: &Tensor<T>) {
        self.shape.clear();
        self.shape.extend_from_slice(&src.shape);
        self.data.clear();
        self.data.extend_from_slice(&src.data);
    }

    /// Sets every element to `value`.
    pub fn fill(&mut self, value: T) {
        self.data.fill(value);
    }

    /// Bytes of heap memory this tensor holds (capacity, not length): used to check that reused
    /// buffers stop growing.
    pub fn capacity_bytes(&self) -> usize {
        self.data.capacity() * std::mem::size_of::<T>()
            + self.shape.capacity() * std::mem::size_of::<usize>()
    }

    /// Writes the nested-bracket form of axis `axis` starting at element `start`. Tensors of more
    /// than [`SUMMARY_THRESHOLD`] elements show only the first and last [`SUMMARY_EDGE`] entries
    /// of each long axis, with `...` between (as NumPy does).
    fn fmt_axis(&self, f: &mut fmt::Formatter<'_>, axis: usize, start: usize) -> fmt::Result {
        if axis == self.shape.len() {
            return write!(f, "{}", self.data[start]);
        }
        let n = self.shape[axis];
        let stride: usize = self.shape[axis + 1..].iter().product();
        let summarize = self.data.len() > SUMMARY_THRESHOLD && n > 2 * SUMMARY_EDGE;
        let last_axis = axis + 1 == self.shape.len();
        // Between entries: ", " on the last axis, else a new line indented under the bracket.
        let separator = |f: &mut fmt::Formatter<'_>| {
            if last_axis {
                write!(f, ", ")
            } else {
                write!(f, ",\n{}", " ".repeat(axis + 1))
            }
        };
        write!(f, "[")?;
        for i in 0..n {
            if summarize && i == SUMMARY_EDGE {
                separator(f)?;
                write!(f, "...")?;
            }
            if summarize && (SUMMARY_EDGE..n - SUMMARY_EDGE).contains(&i) {
                continue;
            }
            if i > 0 {
                separator(f)?;
            }
            self.fmt_axis(f, axis + 1, start + i * stride)?;
        }
        write!(f, "]")
    }
}

/// Tensors with more elements than this print in summarized form.
pub const SUMMARY_THRESHOLD: usize = 1000;
/// Entries shown at each end of a long axis in summarized form.
pub const SUMMARY_EDGE: usize = 3;

impl<T: Float> Default for Tensor<T> {
    fn default() -> Self {
        Self::empty()
    }
}

/// NumPy-like nested brackets: `[[1, 2],\n [3, 4]]`; a scalar prints as its value.
impl<T: Float> fmt::Display for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_axis(f, 0, 0)
    }
}

/// `tensor([[1, 2], [3, 4]], shape=[2, 2], dtype=f32)` (rows on separate lines).
impl<T: Float> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "tensor(")?;
        self.fmt_axis(f, 0, 0)?;
        write!(f, ", shape={:?}, dtype={})", self.shape, T::NAME)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn from_vec_checks_length() {
        let err = Tensor::<f32>::try_from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "data of length 5 does not fit shape [2, 3], which holds 6 elements"
        );
    }

    #[test]
    #[should_panic(expected = "data of length 5 does not fit shape [2, 3]")]
    fn from_vec_panics_with_both() {
        let _ = Tensor::<f64>::from_vec(vec![1.0; 5], &[2, 3]);
    }

    #[test]
    fn scalar_and_item() {
        let s = Tensor::scalar(3.5f64);
        assert_eq!(s.shape(), &[] as &[usize]);
        assert_eq!(s.item(), 3.5);
        assert_eq!(s.get(&[]), 3.5);
        assert_eq!(format!("{s}"), "3.5");
    }

    #[test]
    #[should_panic(expected = "expected exactly one element, got shape [2]")]
    fn item_panics_on_many() {
        let _ = Tensor::<f32>::zeros(&[2]).item();
    }

    #[test]
    fn get_set_row_major() {
        let mut t = Tensor::<f64>::zeros(&[2, 3, 4]);
        t.set(&[1, 2, 3], 7.0);
        assert_eq!(t.data()[12 + 8 + 3], 7.0);
        assert_eq!(t.get(&[1, 2, 3]), 7.0);
    }

    #[test]
    #[should_panic(expected = "out of bounds for shape [2, 3] (axis 1)")]
    fn get_out_of_bounds() {
        let _ = Tensor::<f64>::zeros(&[2, 3]).get(&[0, 3]);
    }

    #[test]
    fn debug_and_display() {
        let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
        assert_eq!(
            format!("{t:?}"),
            "tensor([[1, 2],\n [3, 4]], shape=[2, 2], dtype=f32)"
        );
    }

    #[test]
    fn large_tensors_print_summarized() {
        let t = Tensor::from_vec((0..2000).map(|x| x as f64).collect(), &[2, 1000]);
        assert_eq!(
            format!("{t}"),
            "[[0, 1, 2, ..., 997, 998, 999],\n [1000, 1001, 1002, ..., 1997, 1998, 1999]]"
        );
        let small = Tensor::from_vec((0..8).map(|x| x as f32).collect(), &[8]);
        assert_eq!(format!("{small}"), "[0, 1, 2, 3, 4, 5, 6, 7]");
    }

    #[test]
    fn random_is_deterministic_and_plausible() {
        let a = Tensor::<f64>::randn(&[1001], &mut ChaCha8Rng::seed_from_u64(7));
        let b = Tensor::<f64>::randn(&[1001], &mut ChaCha8Rng::seed_from_u64(7));
        assert_eq!(a, b);
        let mean = a.data().iter().sum::<f64>() / 1001.0;
        let var = a
            .data()
            .iter()
            .map(|x| (x - mean) * (x - mean))
            .sum::<f64>()
            / 1000.0;
        assert!(mean.abs() < 0.15, "mean {mean}");
        assert!((var - 1.0).abs() < 0.15, "variance {var}");
        let u = Tensor::<f32>::rand_uniform(&[500], -2.0, 3.0, &mut ChaCha8Rng::seed_from_u64(1));
        assert!(u.data().iter().all(|&x| (-2.0..3.0).contains(&x)));
    }

    /// Returns `u64::MAX` (so `gen::<f64>()` is the largest double below 1) a given number of
    /// times, then zeros.
    struct TopThenZero(usize);

    impl rand::RngCore for TopThenZero {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            if self.0 > 0 {
                self.0 -= 1;
                u64::MAX
            } else {
                0
            }
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.iter_mut().for_each(|b| *b = self.next_u64() as u8);
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }

    #[test]
    fn rand_uniform_never_returns_the_upper_bound() {
        // -2 + 5·(1 − 2⁻⁵³) rounds to 3.0 in f32: that draw must be rejected.
        let mut rng = TopThenZero(1);
        let t = Tensor::<f32>::rand_uniform(&[2], -2.0, 3.0, &mut rng);
        assert_eq!(t.data(), &[-2.0, -2.0]);
        // In f64 the same draw stays below the bound and is kept.
        let mut rng = TopThenZero(1);
        let t = Tensor::<f64>::rand_uniform(&[1], -2.0, 3.0, &mut rng);
        assert!(t.data()[0] < 3.0 && t.data()[0] > 2.999);
        // Equal bounds give the bound (the only value there is).
        let t = Tensor::<f32>::rand_uniform(&[3], 1.5, 1.5, &mut TopThenZero(5));
        assert_eq!(t.data(), &[1.5; 3]);
    }

    #[test]
    fn resize_reuses_capacity() {
        let mut t = Tensor::<f32>::zeros(&[64]);
        let cap = t.capacity_bytes();
        t.resize(&[8, 8]);
        t.resize(&[4]);
        t.resize(&[2, 32]);
        assert_eq!(t.shape(), &[2, 32]);
        assert_eq!(t.capacity_bytes(), cap.max(t.capacity_bytes()));
        assert_eq!(t.data.capacity(), 64);
    }
}
