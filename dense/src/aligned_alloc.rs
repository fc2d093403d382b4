//! [`CacheLineAlloc`]: a global allocator that starts every large buffer on a cache line.
//!
//! A `Vec<f32>` is only as aligned as its element needs (4 bytes), and the system allocator
//! gives 16. A large buffer (glibc serves those from fresh pages, behind a 16-byte header)
//! then starts 16 bytes past a 64-byte cache line, and so does every row of 16·j floats in it:
//! each 64-byte vector store of a row straddles two lines and costs two. For a product that mostly
//! writes C (the `[4096, 4]·[4, 64]` first layer) that made the whole product 1.7× slower on
//! AVX-512 (1.35× on AVX2); across a 4-64-64-2 MLP training step at batch 512, 9% on AVX-512.
//!
//! The kernels cannot fix this themselves (the buffers belong to the caller, and a row's
//! alignment is set by where the buffer starts), and a library must not choose the program's
//! allocator. So the choice is the program's: a binary opts in with
//!
//! ```
//! #[global_allocator]
//! static ALLOC: dense::CacheLineAlloc = dense::CacheLineAlloc;
//! # fn main() {}
//! ```
//!
//! as the `pg` command and the benchmarks do. Requests of at least [`LARGE`] bytes that ask for
//! less alignment get 64-byte alignment from the system allocator; smaller ones pass through
//! unchanged (a few bytes of slack would waste more than it saves). Nothing else changes: the
//! same numbers land in the same order, so every result is the same bit for bit.

use std::alloc::{GlobalAlloc, Layout, System};

/// Requests of at least this many bytes are aligned to a cache line.
pub const LARGE: usize = 4096;
/// A cache line on the x86-64 processors this crate targets.
pub const LINE: usize = 64;

/// The system allocator, with every request of at least [`LARGE`] bytes aligned to a
/// [`LINE`]; see the [module documentation](self).
#[derive(Clone, Copy, Debug, Default)]
pub struct CacheLineAlloc;

/// The layout actually requested from the system for `layout`.
fn adjusted(layout: Layout) -> Layout {
    if layout.size() >= LARGE && layout.align() < LINE {
        // A power of two no smaller than the old alignment, and a size that was valid for a
        // smaller alignment stays valid (it cannot overflow isize when rounded up to 64).
        Layout::from_size_align(layout.size(), LINE).unwrap_or(layout)
    } else {
        layout
    }
}

// SAFETY: every method forwards to `System` with `adjusted(layout)`, the same function of the
// caller's layout at allocation and at deallocation, so `System` always sees matching layouts;
// `realloc` moves between an adjusted and an unadjusted layout by allocating, copying the
// smaller of the two sizes, and freeing, as `GlobalAlloc::realloc`'s contract allows.
unsafe impl GlobalAlloc for CacheLineAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `adjusted` keeps a non-zero size and a valid power-of-two alignment.
        unsafe { System.alloc(adjusted(layout)) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(adjusted(layout)) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this `layout`, so from `System` with
        // `adjusted(layout)`.
        unsafe { System.dealloc(ptr, adjusted(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = adjusted(layout);
        let Ok(new) = Layout::from_size_align(new_size, layout.align()).map(adjusted) else {
            return std::ptr::null_mut();
        };
        if old.align() == new.align() {
            // SAFETY: `ptr` was allocated by `System` with `old`, whose alignment the new
            // layout keeps; `new_size` is non-zero and valid for it (the caller's contract).
            return unsafe { System.realloc(ptr, old, new_size) };
        }
        // SAFETY: `new` is a valid non-zero layout; on success both blocks are live and do not
        // overlap, the copy stays inside both, and `ptr` is then freed with its own layout.
        unsafe {
            let moved = System.alloc(new);
            if !moved.is_null() {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size().min(new_size));
                System.dealloc(ptr, old);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Large requests start on a line, small ones keep their own alignment, and growing or
    /// shrinking across the threshold keeps the contents.
    #[test]
    fn large_blocks_start_on_a_cache_line_and_keep_their_contents() {
        let alloc = CacheLineAlloc;
        for size in [LARGE, LARGE + 4, 1 << 20] {
            let layout = Layout::from_size_align(size, 4).unwrap();
            // SAFETY: a valid non-zero layout; the block is freed with the same layout.
            unsafe {
                let p = alloc.alloc(layout);
                assert!(!p.is_null());
                assert_eq!(p as usize % LINE, 0, "{size} bytes");
                alloc.dealloc(p, layout);
            }
        }
        let small = Layout::from_size_align(100, 4).unwrap();
        // SAFETY: as above; every realloc passes the layout the block currently has.
        unsafe {
            let p = alloc.alloc(small);
            for i in 0..100 {
                *p.add(i) = i as u8;
            }
            let big = alloc.realloc(p, small, 2 * LARGE);
            assert_eq!(big as usize % LINE, 0);
            assert!((0..100).all(|i| *big.add(i) == i as u8));
            let big_layout = Layout::from_size_align(2 * LARGE, 4).unwrap();
            let back = alloc.realloc(big, big_layout, 50);
            assert!((0..50).all(|i| *back.add(i) == i as u8));
            alloc.dealloc(back, Layout::from_size_align(50, 4).unwrap());
        }
    }
}
