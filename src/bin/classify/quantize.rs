//! `classify quantize --model DIR --to int8|int8-per-channel|f16 [--activation-range u7|u8] [--outliers T]
//! --out DIR2`: convert an f32 model folder (either format) with [`encoder_lens::quant::convert_files_with`],
//! write it, reload it, and print the sizes and the largest logit (or pooled-value) difference against the
//! f32 model on a built-in check set.

use encoder_lens::folder::Folder;
use encoder_lens::model::param::ActivationGrid;
use encoder_lens::quant;

pub const USAGE: &str = "       classify quantize --model DIR --to int8|int8-per-channel|f16 [--activation-range u7|u8] [--outliers T] --out DIR2
  Quantize (first argument `quantize`)
      convert an f32 model folder (either format) to int8 (PyTorch's dynamic quantization, one scale per
      tensor), int8-per-channel (one scale per output row) or f16 (linear weights and embedding tables);
      prints sizes and the largest logit difference against the f32 model on a built-in check set
      --activation-range u7|u8  int8: the grid each linear's input is quantized to at every forward: u7
                                (PyTorch's x86 engine fbgemm, 0..127, the default) or u8 (its qnnpack
                                engine, 0..255)
      --outliers T              int8: input columns whose max |x| on the check set (f32 model) exceeds T
                                run in f32, left out of the activation range (MiniLM: T = 12, 14 columns)";

fn value(it: &mut impl Iterator<Item = std::ffi::OsString>, flag: &str) -> Result<String, String> {
    it.next().and_then(|v| v.into_string().ok()).ok_or_else(|| format!("{flag} needs a value"))
}

/// Run the subcommand on the arguments after `quantize`.
pub fn run(mut it: impl Iterator<Item = std::ffi::OsString>) -> Result<(), String> {
    let (mut model, mut to, mut out, mut activation, mut threshold) = (None, None, None, ActivationGrid::U7, None);
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--model") => model = Some(value(&mut it, "--model")?),
            Some("--to") => to = Some(value(&mut it, "--to")?),
            Some("--out") => out = Some(value(&mut it, "--out")?),
            Some("--activation-range") => activation = ActivationGrid::try_from(value(&mut it, "--activation-range")?)?,
            Some("--outliers") => {
                let v = value(&mut it, "--outliers")?;
                let t: f32 = v.parse().ok().filter(|t: &f32| t.is_finite() && *t >= 0.0).ok_or_else(|| format!("--outliers `{v}`: a threshold ≥ 0 (max |x| of an input column)"))?;
                threshold = Some(t);
            }
            _ => return Err(format!("quantize: unexpected argument `{}`", a.to_string_lossy())),
        }
    }
    let (Some(model), Some(to), Some(out)) = (model, to, out) else {
        return Err("quantize needs --model DIR, --to int8|int8-per-channel|f16 and --out DIR2".into());
    };
    let target: quant::Target = to.parse().map_err(|e: encoder_lens::Error| e.to_string())?;
    let (src, out) = (std::path::Path::new(&model), std::path::Path::new(&out));
    let ctx = |e: encoder_lens::Error| format!("{}: {e}", src.display());
    let folder = Folder::read(src).map_err(ctx)?;
    let original = folder.classifier().map_err(ctx)?;
    let column_max = match threshold {
        Some(_) => quant::calibrate(&original).map_err(ctx)?,
        None => Default::default(),
    };
    let outliers = threshold.map(|threshold| quant::Outliers { threshold, column_max: &column_max });
    let scheme = quant::Scheme { target, activation, outliers };
    let conv = quant::convert_files_with(&folder.files().map_err(ctx)?, &scheme).map_err(ctx)?;
    folder.write_converted(&conv, out).map_err(|e| e.to_string())?;
    let converted = Folder::read(out).and_then(|f| f.classifier()).map_err(|e| format!("{}: {e}", out.display()))?;
    let (diff, same) = quant::compare(&original, &converted).map_err(|e| e.to_string())?;
    let (a, b) = (folder.weights_bytes(), conv.weights.len());
    let mut what = to.clone();
    if activation != ActivationGrid::U7 {
        what += &format!(", activations {}", activation.name());
    }
    println!("{}: {} tensors converted to {what}", out.display(), conv.converted.len());
    if let Some(t) = threshold {
        println!("outlier columns (max |x| > {t} on the check set, run in f32): {} in {} linears", conv.outlier_columns, conv.outlier_linears);
    }
    println!("weights: {a} bytes (f32) -> {b} bytes ({to}), {:.1} %", 100.0 * b as f64 / a as f64);
    let what = if original.model.classifier.is_some() { "logit" } else { "pooled value" };
    println!("check set ({} texts): max |{what} difference| {diff:.3e}, same top label on {same}", quant::CHECK_TEXTS.len());
    Ok(())
}
