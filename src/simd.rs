//! Runtime dispatch of hot loops to an AVX2 build of the same code.

/// Defines `$name`, which runs `$portable` compiled for AVX2 where the processor has it, else as
/// it is: the same operations in the same order (no fused multiply-add, no reassociation), so the
/// same bits either way. For the few loops where a run spends its time (the synthetic-DiD
/// Frank–Wolfe passes, the multiplier bootstrap's sums); `$portable` should be
/// `#[inline(always)]` so that it is compiled again inside the AVX2 copy.
macro_rules! with_avx2 {
    ($(#[$doc:meta])* fn $name:ident = $portable:ident($($arg:ident: $ty:ty),*) -> $ret:ty) => {
        $(#[$doc])*
        fn $name($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) -> $ret {
                    $portable($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the processor supports AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $portable($($arg),*)
        }
    };
}

pub(crate) use with_avx2;
