//! The `pg` command; everything lives in `policy_gradient::cli`.

/// Large buffers (activations, gradients) start on a cache line, so the kernels' vector stores
/// never straddle two lines; see `dense::aligned_alloc`.
#[global_allocator]
static ALLOC: dense::CacheLineAlloc = dense::CacheLineAlloc;

fn main() -> std::process::ExitCode {
    policy_gradient::cli::main()
}
