//! CPU kernels. `scalar` is the reference (the oracle for every other path); faster variants keep the
//! same signatures and are selected here.

pub mod scalar;

pub use scalar::{
    activation_inplace, add_inplace, attention, batch_norm_eval, batch_stats, layer_norm, linear, softmax_inplace,
};
