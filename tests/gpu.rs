//! The GPU backend natively (wgpu on Vulkan; lavapipe on these machines): kernels vs the CPU over many
//! random shapes, whole models vs the CPU and PyTorch, one submit per forward, and the CPU fallback.
//! Without an adapter each test prints `SKIPPED: …` (and fails when REQUIRE_GPU=1).
#![cfg(not(target_arch = "wasm32"))]

mod common;
#[path = "common/gpu_checks.rs"]
mod gpu_checks;

use pollster::block_on;

macro_rules! gpu_test {
    ($name:ident, |$ctx:ident| $body:expr) => {
        #[test]
        fn $name() {
            block_on(async {
                let Some($ctx) = gpu_checks::gpu_or_skip(stringify!($name)).await else { return };
                $body.await;
            })
        }
    };
}

gpu_test!(matmul_matches_cpu_on_60_shapes, |ctx| gpu_checks::matmul(&ctx, 60, 300));
gpu_test!(attention_matches_cpu_on_50_shapes, |ctx| gpu_checks::attention(&ctx, 50, 300));
gpu_test!(norms_match_cpu_on_50_shapes, |ctx| gpu_checks::norms(&ctx, 50, 300));
gpu_test!(embed_pool_softmax_match_cpu_on_50_shapes, |ctx| gpu_checks::embed_pool_softmax(&ctx, 50, 300));
gpu_test!(sentiment_ln_on_gpu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[0], ctx).await; });
gpu_test!(sentiment_bn_on_gpu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[1], ctx).await; });
gpu_test!(prenorm_gelu_on_gpu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[2], ctx).await; });
gpu_test!(prenorm_bn_on_gpu_matches_cpu_and_pytorch, |ctx| async { gpu_checks::model(&common::MODELS[3], ctx).await; });
gpu_test!(oversized_tensor_is_refused, |ctx| async { gpu_checks::oversized_tensor_is_refused(&ctx) });

#[test]
fn falls_back_to_cpu_without_an_adapter() {
    block_on(gpu_checks::fallback_without_adapter(&common::MODELS[2]));
}

#[test]
fn falls_back_to_cpu_after_device_loss() {
    block_on(gpu_checks::fallback_after_device_loss(&common::MODELS[2], "falls_back_to_cpu_after_device_loss"));
}
