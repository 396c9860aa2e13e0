//! Per-app rate limiting (429 with `Retry-After`), off unless configured.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use parley_domain::AppId;

use crate::error::ApiError;

/// A token bucket per app, in this process's memory.
pub struct RateLimit {
    limiter: RateLimiter<AppId, DefaultKeyedStateStore<AppId>, DefaultClock>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit").finish_non_exhaustive()
    }
}

impl RateLimit {
    /// `per_second` sustained requests per app with bursts of up to `burst` (at least
    /// `per_second`); `None` when `per_second` is 0, which means no limit.
    pub fn new(per_second: u32, burst: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_second)?;
        let burst = NonZeroU32::new(burst.max(per_second)).unwrap_or(rate);
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            clock: DefaultClock::default(),
        })
    }

    /// # Errors
    /// [`ApiError::RateLimited`] with the whole seconds to wait.
    pub fn check(&self, app: &AppId) -> Result<(), ApiError> {
        self.check_n(app, 1)
    }

    /// Takes `n` requests at once (a batch of `n` operations): all or none.
    ///
    /// # Errors
    /// [`ApiError::RateLimited`] with the whole seconds to wait; a 400 `LIMIT_EXCEEDED` when
    /// `n` is more than the burst allows at all (no wait would help).
    pub fn check_n(&self, app: &AppId, n: u32) -> Result<(), ApiError> {
        let Some(n) = NonZeroU32::new(n) else {
            return Ok(());
        };
        match self.limiter.check_key_n(app, n) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => {
                let wait = not_until.wait_time_from(self.clock.now());
                Err(ApiError::RateLimited(
                    wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
                ))
            }
            // More than the burst allows at once can never pass: waiting would not help.
            Err(_) => Err(ApiError::Invalid(parley_domain::Invalid::field(
                parley_domain::InvalidCode::LimitExceeded,
                "(body)",
                format!(
                    "this batch counts as {n} requests, more than the app's rate limit allows at once"
                ),
            ))),
        }
    }
}
