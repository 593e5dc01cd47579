//! Inputs the fuzz targets (fuzz/) crashed on, run through the same steps as the target, each named after
//! what it found. Native tests build with overflow checks, as the fuzz builds do.

use encoder_lens::{Classifier, Engine, ForwardOptions, HfFiles};
use pollster::block_on;

/// The `pipeline` target's input layout: `flags, config 0xFF vocab 0xFF text 0xFF weights` (flags 0: the
/// input's own weights and vocab).
fn run_pipeline_input(data: &[u8]) -> encoder_lens::Result<usize> {
    let (&flags, rest) = data.split_first().expect("an input has a flags byte");
    assert_eq!(flags & 7, 0, "these regressions carry their own weights and vocab");
    let mut parts = rest.splitn(4, |&b| b == 0xFF);
    let mut next = || parts.next().unwrap_or(&[]);
    let config_json = String::from_utf8_lossy(next()).into_owned();
    let vocab_txt = String::from_utf8_lossy(next()).into_owned();
    let text = String::from_utf8_lossy(next()).into_owned();
    let weights = next();
    let files = HfFiles { config_json: &config_json, vocab_txt: &vocab_txt, weights: vec![weights], ..Default::default() };
    let mut engine = Engine::cpu(Classifier::from_files(&files)?);
    let texts: Vec<&str> = text.split('\n').take(8).collect();
    let c = block_on(engine.classify(&texts, &ForwardOptions::default()))?;
    Ok(c.predictions.len())
}

/// Session 7, `pipeline`, 1.58 M runs after the int8 seeds were added: an int8 model with 8-bit activations
/// and f32 outlier columns whose input holds, in an outlier column, a value far outside the range of the
/// other columns (the range leaves outlier columns out). Quantizing that value overflowed `i32` when the
/// zero point was added (`attempt to add with overflow` in `quant::quantize_activations_grid`). Its
/// quantized value meets weight columns of 0, so any clamped value is right; now it saturates.
#[test]
fn int8_outlier_column_far_outside_the_range_does_not_overflow() {
    let data = include_bytes!("fixtures/fuzz/pipeline-outlier-column-overflow.bin");
    match run_pipeline_input(data) {
        Ok(n) => assert_eq!(n, 2, "one prediction per text"),
        Err(e) => panic!("the model in this input is valid and should classify: {e}"),
    }
}
