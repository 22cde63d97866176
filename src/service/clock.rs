//! The time the use cases read: one [`Clock`] the [`Service`](super::Service) owns.
//!
//! Every rule that depends on the moment — sessions' timeouts, due dates and overdue action
//! items, stuck loops, follow-ups, a pulse round's close, the daily release of anonymous
//! contributions — asks the service's clock, never the system's directly, so that tests can move
//! time with a [`SetClock`] instead of sleeping or back-dating rows. The front doors ask the
//! service too (`Service::today`).

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// Where the use cases get the current instant (UTC).
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> OffsetDateTime;

    /// Midnight UTC of the current day: the precision of due dates and anonymous records.
    fn today(&self) -> OffsetDateTime {
        crate::domain::when::day_of(self.now())
    }
}

/// The system's clock, in UTC: what the server runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that stands still until it is set or advanced; clones share one time, so a test
/// keeps a handle on the clock it gave the service.
#[derive(Debug, Clone)]
pub struct SetClock {
    at: Arc<Mutex<OffsetDateTime>>,
}

impl SetClock {
    pub fn at(at: OffsetDateTime) -> Self {
        Self {
            at: Arc::new(Mutex::new(at)),
        }
    }

    /// Stands at the system's current time.
    pub fn starting_now() -> Self {
        Self::at(OffsetDateTime::now_utc())
    }

    pub fn set(&self, at: OffsetDateTime) {
        *self.lock() = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut at = self.lock();
        *at += by;
    }

    /// A poisoned lock still holds a valid time: nothing panics while holding it but `+=`.
    fn lock(&self) -> std::sync::MutexGuard<'_, OffsetDateTime> {
        self.at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Clock for SetClock {
    fn now(&self) -> OffsetDateTime {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_clock_moves_only_when_told_and_its_clones_follow() {
        let start = time::macros::datetime!(2026-03-01 23:30 UTC);
        let clock = SetClock::at(start);
        let shared = clock.clone();
        assert_eq!(shared.now(), start);
        clock.advance(Duration::hours(1));
        assert_eq!(shared.now(), start + Duration::hours(1));
        assert_eq!(shared.today(), time::macros::datetime!(2026-03-02 0:00 UTC));
        shared.set(start);
        assert_eq!(clock.now(), start);
    }
}
