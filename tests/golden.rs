//! The engine against the PyTorch reference (`scripts/export_fixtures.py`): token ids, embeddings, every
//! layer's hidden states, attention probabilities and norm statistics, pooled vector, logits and
//! probabilities, for two trained models (LayerNorm, BatchNorm; post-norm) two random pre-norm models and a random post-norm SiLU model.
//! Runs natively and, through `tests/wasm.rs`, in the browser.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::golden_checks;

#[test]
fn sentiment_ln_matches_pytorch() {
    golden_checks::check_model(&common::MODELS[0]);
}

#[test]
fn sentiment_bn_matches_pytorch() {
    golden_checks::check_model(&common::MODELS[1]);
}

#[test]
fn prenorm_gelu_matches_pytorch() {
    golden_checks::check_model(&common::MODELS[2]);
}

#[test]
fn prenorm_bn_matches_pytorch() {
    golden_checks::check_model(&common::MODELS[3]);
}

#[test]
fn postnorm_silu_matches_pytorch() {
    golden_checks::check_model(&common::MODELS[4]);
}

#[test]
fn batched_equals_one_at_a_time() {
    for m in &common::MODELS {
        golden_checks::check_batch_independence(m);
    }
}
