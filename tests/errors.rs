//! Bad input gets a clear error or a defined result, never a panic: configs, weights, vocabularies, texts
//! and batches. Uses the small pre-norm fixture model so the cases are cheap to construct.
#![cfg(not(target_arch = "wasm32"))]

mod common;
use common::error_checks;

#[test]
fn config_errors() {
    error_checks::config_errors();
}

#[test]
fn weight_errors() {
    error_checks::weight_errors();
}

#[test]
fn vocab_errors() {
    error_checks::vocab_errors();
}

#[test]
fn text_inputs_give_defined_results() {
    error_checks::text_inputs();
}

#[test]
fn batch_errors() {
    error_checks::batch_errors();
}
