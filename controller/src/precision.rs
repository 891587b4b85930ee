//! How precisely the sound card must keep time now: the one thing the player tells the
//! output besides what to air.
//!
//! A short card period (10 ms) is what makes a bulletin start within a few milliseconds of
//! its second, but it wakes the controller a hundred times a second, for hours, while
//! nothing airs. The player's core decides when precision is needed (something airs or is
//! cued, a start is a few seconds away, an urgent notice is due); the rest of the time the
//! `default` output runs the card on a long period. The output switches between them by
//! reopening its stream, which only ever drops silence: the player cues nothing until the
//! output says the short period runs ([`Precision::is_precise`]).
//!
//! A live broadcast, which the player's core does not plan, holds precision for as long as
//! it lasts ([`Precision::hold`]): the card runs its short period from the session's
//! announcement, before its first audio is due.
//!
//! `null` and `wav:` outputs pace themselves and are always precise.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The shared handle between the player (which wants) and the output (which runs).
#[derive(Debug)]
pub struct Precision {
    state: Mutex<State>,
    /// Wakes the output's thread when the wish changes.
    changed: Condvar,
    /// Wakes the player when the output has switched to what it wanted.
    pub switched: tokio::sync::Notify,
}

#[derive(Debug, Clone, Copy)]
struct State {
    /// What the player wants.
    wanted: bool,
    /// Live sessions holding precision.
    held: u32,
    /// What the output runs.
    precise: bool,
    /// Whether the output switches at all (only the sound card does).
    managed: bool,
}

impl State {
    /// What the output should run: the player's wish, or precise while anything holds it.
    fn target(&self) -> bool {
        self.wanted || self.held > 0
    }
}

/// Precision held for a live session; released when dropped.
#[derive(Debug)]
pub struct Hold(Arc<Precision>);

impl Drop for Hold {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        let before = st.target();
        st.held = st.held.saturating_sub(1);
        if st.managed && st.target() != before {
            self.0.changed.notify_all();
        }
    }
}

impl Precision {
    /// A handle for an output that is always precise (`null`, `wav:`).
    pub fn always() -> Self {
        Self::with(State {
            wanted: true,
            held: 0,
            precise: true,
            managed: false,
        })
    }

    /// A handle for the sound card, which starts precise (the player relaxes it once it
    /// knows nothing is due).
    pub fn managed() -> Self {
        Self::with(State {
            wanted: true,
            held: 0,
            precise: true,
            managed: true,
        })
    }

    fn with(state: State) -> Self {
        Self {
            state: Mutex::new(state),
            changed: Condvar::new(),
            switched: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The player: precision is (or is not) needed from now on.
    pub fn want(&self, precise: bool) {
        let mut st = self.lock();
        if !st.managed {
            return;
        }
        let before = st.target();
        st.wanted = precise;
        if st.target() != before {
            self.changed.notify_all();
        }
    }

    /// A live session: precision is needed until the returned hold is dropped, whatever
    /// the player wants meanwhile.
    pub fn hold(self: &Arc<Self>) -> Hold {
        let mut st = self.lock();
        let before = st.target();
        st.held += 1;
        if st.managed && st.target() != before {
            self.changed.notify_all();
        }
        drop(st);
        Hold(self.clone())
    }

    /// The player: whether the output runs precisely now (cue only then).
    pub fn is_precise(&self) -> bool {
        self.lock().precise
    }

    /// The output: what the player wants, after waiting at most `timeout` for a change
    /// from `running`.
    pub fn wait_wanted(&self, running: bool, timeout: Duration) -> bool {
        let st = self.lock();
        let (st, _) = self
            .changed
            .wait_timeout_while(st, timeout, |s| s.target() == running)
            .unwrap_or_else(|e| e.into_inner());
        st.target()
    }

    /// The output: it now runs precisely (or not). Wakes the player when that is what it
    /// wanted.
    pub fn set_running(&self, precise: bool) {
        let mut st = self.lock();
        st.precise = precise;
        if st.target() == precise {
            self.switched.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_output_that_paces_itself_stays_precise_whatever_is_wanted() {
        let p = Precision::always();
        p.want(false);
        assert!(p.is_precise());
        assert!(p.wait_wanted(true, Duration::ZERO));
    }

    #[test]
    fn the_card_is_precise_only_once_the_output_says_it_runs_so() {
        let p = Precision::managed();
        assert!(p.is_precise(), "the card starts on its short period");
        p.want(false);
        assert!(!p.wait_wanted(true, Duration::ZERO));
        p.set_running(false);
        assert!(!p.is_precise());
        p.want(true);
        assert!(!p.is_precise(), "wanted is not running");
        assert!(p.wait_wanted(false, Duration::ZERO));
        p.set_running(true);
        assert!(p.is_precise());
    }

    #[test]
    fn a_live_session_holds_precision_whatever_the_player_wants() {
        let p = Arc::new(Precision::managed());
        p.want(false);
        p.set_running(false);
        let hold = p.hold();
        assert!(
            p.wait_wanted(false, Duration::ZERO),
            "held: the card must switch"
        );
        p.want(false);
        assert!(
            p.wait_wanted(false, Duration::ZERO),
            "the player cannot relax it"
        );
        let second = p.hold();
        drop(hold);
        assert!(p.wait_wanted(false, Duration::ZERO), "one hold left");
        drop(second);
        assert!(
            !p.wait_wanted(true, Duration::ZERO),
            "released: back to the player's wish"
        );
    }
}
