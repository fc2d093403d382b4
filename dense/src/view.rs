//! Strided matrix views: a matrix is a slice plus (rows, cols, row stride, column stride).
//!
//! Element `(i, j)` lives at `data[i·rs + j·cs]`. A row-major `r×c` matrix has `rs = c, cs = 1`;
//! its transpose is the *same memory* read with the strides swapped (`rs = 1, cs = c`). This is
//! why the backward products `dX = dY·Wᵀ` and `dW = Xᵀ·dY` need no transposed copies: they are
//! ordinary GEMMs over transposed views. Constructors check that every element is inside the
//! slice, so the kernels can rely on it.

use std::fmt;

/// A read-only strided view of a `rows × cols` matrix.
#[derive(Clone, Copy)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// A mutable strided view of a `rows × cols` matrix whose elements do not overlap.
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

/// Index of the last element of a view + 1, or 0 for an empty view.
fn extent(rows: usize, cols: usize, rs: usize, cs: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// Whether no two elements of the view share memory.
fn disjoint(rows: usize, cols: usize, rs: usize, cs: usize) -> bool {
    match (rows, cols) {
        (0, _) | (_, 0) | (1, 1) => true,
        (1, _) => cs >= 1,
        (_, 1) => rs >= 1,
        _ => (cs >= 1 && rs > (cols - 1) * cs) || (rs >= 1 && cs > (rows - 1) * rs),
    }
}

impl<'a, T: Copy> MatRef<'a, T> {
    /// A view with explicit strides. Panics, naming the values, when an element would fall
    /// outside `data`.
    pub fn new(data: &'a [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        let need = extent(rows, cols, rs, cs);
        assert!(
            need <= data.len(),
            "MatRef: a {rows}x{cols} view with strides ({rs}, {cs}) needs {need} elements, the slice has {}",
            data.len()
        );
        MatRef {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// A contiguous row-major view (`rs = cols`, `cs = 1`).
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }

    /// A contiguous column-major view (`rs = 1`, `cs = rows`).
    pub fn col_major(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, 1, rows)
    }

    /// The transpose: same memory, strides swapped.
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Row stride (elements between `(i, j)` and `(i + 1, j)`).
    pub fn rs(&self) -> usize {
        self.rs
    }
    /// Column stride (elements between `(i, j)` and `(i, j + 1)`).
    pub fn cs(&self) -> usize {
        self.cs
    }

    /// Element `(i, j)`; panics when out of range.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> T {
        assert!(
            i < self.rows && j < self.cols,
            "MatRef::get({i}, {j}) on a {}x{} view",
            self.rows,
            self.cols
        );
        self.data[i * self.rs + j * self.cs]
    }

    /// The underlying slice, starting at element `(0, 0)`.
    pub fn as_slice(&self) -> &'a [T] {
        self.data
    }

    /// Row `i` as a contiguous slice when the column stride is 1.
    pub fn row(&self, i: usize) -> Option<&'a [T]> {
        (self.cs == 1 && i < self.rows).then(|| &self.data[i * self.rs..i * self.rs + self.cols])
    }

    /// The `rows × cols` sub-matrix whose top-left element is `(i, j)`.
    pub fn sub(&self, i: usize, j: usize, rows: usize, cols: usize) -> Self {
        assert!(
            i + rows <= self.rows && j + cols <= self.cols,
            "MatRef::sub: {rows}x{cols} at ({i}, {j}) does not fit a {}x{} view",
            self.rows,
            self.cols
        );
        let start = if rows == 0 || cols == 0 {
            0
        } else {
            i * self.rs + j * self.cs
        };
        MatRef {
            data: &self.data[start..],
            rows,
            cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
}

impl<'a, T: Copy> MatMut<'a, T> {
    /// A mutable view with explicit strides. Panics, naming the values, when an element would
    /// fall outside `data` or when two elements would share memory (each of `rs`, `cs` must
    /// step past the whole extent of the other dimension: `rs ≥ (cols-1)·cs + 1` or
    /// `cs ≥ (rows-1)·rs + 1`).
    pub fn new(data: &'a mut [T], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        let need = extent(rows, cols, rs, cs);
        assert!(
            need <= data.len(),
            "MatMut: a {rows}x{cols} view with strides ({rs}, {cs}) needs {need} elements, the slice has {}",
            data.len()
        );
        let disjoint = disjoint(rows, cols, rs, cs);
        assert!(
            disjoint,
            "MatMut: strides ({rs}, {cs}) make elements of a {rows}x{cols} view overlap"
        );
        MatMut {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// A contiguous row-major view (`rs = cols`, `cs = 1`).
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Self {
        Self::new(data, rows, cols, cols, 1)
    }

    /// The transpose: same memory, strides swapped.
    pub fn t(self) -> Self {
        MatMut {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Row stride.
    pub fn rs(&self) -> usize {
        self.rs
    }
    /// Column stride.
    pub fn cs(&self) -> usize {
        self.cs
    }

    /// Element `(i, j)`; panics when out of range.
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> T {
        assert!(
            i < self.rows && j < self.cols,
            "MatMut::get({i}, {j}) on a {}x{} view",
            self.rows,
            self.cols
        );
        self.data[i * self.rs + j * self.cs]
    }

    /// Sets element `(i, j)`; panics when out of range.
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: T) {
        assert!(
            i < self.rows && j < self.cols,
            "MatMut::set({i}, {j}) on a {}x{} view",
            self.rows,
            self.cols
        );
        self.data[i * self.rs + j * self.cs] = v;
    }

    /// A read-only view of the same elements.
    pub fn as_ref(&self) -> MatRef<'_, T> {
        MatRef {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// Re-borrows the view for a shorter lifetime.
    pub fn rb(&mut self) -> MatMut<'_, T> {
        MatMut {
            data: self.data,
            rows: self.rows,
            cols: self.cols,
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// The underlying slice, starting at element `(0, 0)`.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.data
    }

    /// Row `i` as a contiguous mutable slice when the column stride is 1.
    pub fn row_mut(&mut self, i: usize) -> Option<&mut [T]> {
        if self.cs == 1 && i < self.rows {
            let s = i * self.rs;
            Some(&mut self.data[s..s + self.cols])
        } else {
            None
        }
    }

    /// True when one row spans more memory than the row stride (a column-major view, say), so the
    /// rows cannot be cut apart at a slice boundary.
    pub fn rows_interleave(&self) -> bool {
        let row_span = self.cols.saturating_sub(1) * self.cs + 1;
        self.rows > 1 && self.cols > 0 && row_span > self.rs
    }

    /// Splits the view into rows `0..i` and `i..rows`, two views that can be written at the same
    /// time (e.g. by two threads). `Err(self)` when rows interleave in memory (a row spans more
    /// than the row stride, as in a column-major view), so no slice boundary separates them.
    #[allow(clippy::type_complexity)]
    pub fn split_rows(self, i: usize) -> Result<(MatMut<'a, T>, MatMut<'a, T>), MatMut<'a, T>> {
        assert!(
            i <= self.rows,
            "MatMut::split_rows: row {i} of a {}-row view",
            self.rows
        );
        if self.rows_interleave() {
            return Err(self);
        }
        let cut = (i * self.rs).min(self.data.len());
        let (top, bottom) = self.data.split_at_mut(cut);
        let (rows, cols, rs, cs) = (self.rows, self.cols, self.rs, self.cs);
        let bottom = if i == rows { &mut bottom[..0] } else { bottom };
        Ok((
            MatMut {
                data: top,
                rows: i,
                cols,
                rs,
                cs,
            },
            MatMut {
                data: bottom,
                rows: rows - i,
                cols,
                rs,
                cs,
            },
        ))
    }

    /// The `rows × cols` sub-matrix whose top-left element is `(i, j)`.
    pub fn sub(&mut self, i: usize, j: usize, rows: usize, cols: usize) -> MatMut<'_, T> {
        assert!(
            i + rows <= self.rows && j + cols <= self.cols,
            "MatMut::sub: {rows}x{cols} at ({i}, {j}) does not fit a {}x{} view",
            self.rows,
            self.cols
        );
        let start = if rows == 0 || cols == 0 {
            0
        } else {
            i * self.rs + j * self.cs
        };
        MatMut {
            data: &mut self.data[start..],
            rows,
            cols,
            rs: self.rs,
            cs: self.cs,
        }
    }
}

impl<T> fmt::Debug for MatRef<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MatRef({}x{}, strides ({}, {}))",
            self.rows, self.cols, self.rs, self.cs
        )
    }
}

impl<T> fmt::Debug for MatMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MatMut({}x{}, strides ({}, {}))",
            self.rows, self.cols, self.rs, self.cs
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_reads_the_same_memory() {
        let d = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let a = MatRef::row_major(&d, 2, 3);
        let t = a.t();
        assert_eq!((t.rows(), t.cols()), (3, 2));
        for i in 0..2 {
            for j in 0..3 {
                assert_eq!(a.get(i, j), t.get(j, i));
            }
        }
    }

    #[test]
    #[should_panic(expected = "needs 7 elements, the slice has 6")]
    fn too_short_slice_is_named() {
        let d = [0.0f32; 6];
        let _ = MatRef::new(&d, 2, 3, 4, 1);
    }

    #[test]
    #[should_panic(expected = "overlap")]
    fn overlapping_mut_view_is_rejected() {
        let mut d = [0.0f32; 6];
        let _ = MatMut::new(&mut d, 2, 3, 1, 1);
    }

    #[test]
    fn sub_view_offsets() {
        let d: Vec<f64> = (0..12).map(|x| x as f64).collect();
        let a = MatRef::row_major(&d, 3, 4);
        let s = a.sub(1, 2, 2, 2);
        assert_eq!(s.get(0, 0), 6.0);
        assert_eq!(s.get(1, 1), 11.0);
    }
}
