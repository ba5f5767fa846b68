//! Busy-polling: after socket input, one runtime worker keeps polling for more for a short
//! window before it lets the runtime go to sleep.
//!
//! A round trip through the broker is a relay: the client writes and waits, the broker routes
//! and writes back, the client wakes and answers. Whenever one side finds nothing to do its
//! thread sleeps in `epoll_wait`, and the next frame has to wake it again: a futex or epoll
//! wake-up, an inter-processor interrupt and, on a virtual machine, an exit to the hypervisor.
//! That costs more than routing the frame. While frames keep coming, a worker that polls the
//! sockets without blocking for a few microseconds after the last input picks the next frame up
//! at once; when input stops, it parks after the window and an idle broker uses no CPU.
//!
//! The poller is one task. It yields to the runtime between checks, so each turn is one
//! non-blocking poll of the I/O driver and every ready connection runs before it turns again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Notify};

/// Shared state of a broker's busy-poll task; sessions report input through [`BusyPoll::input`].
#[derive(Debug)]
pub(crate) struct BusyPoll {
    window: Duration,
    /// Count of socket reads that brought bytes in; the poller only compares it between turns.
    inputs: AtomicU64,
    /// Set while the poller is parked, so the next input knows to wake it.
    parked: AtomicBool,
    wake: Notify,
    /// What the poller is doing; changes at most twice per window, for observers (tests).
    state: watch::Sender<PollState>,
}

/// Whether the poller is parked, and how many times it has parked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PollState {
    pub(crate) parked: bool,
    pub(crate) parks: u64,
}

impl BusyPoll {
    /// A poller that keeps polling for `window` after the last input.
    pub(crate) fn new(window: Duration) -> Arc<BusyPoll> {
        Arc::new(BusyPoll {
            window,
            inputs: AtomicU64::new(0),
            parked: AtomicBool::new(false),
            wake: Notify::new(),
            state: watch::Sender::new(PollState::default()),
        })
    }

    /// Records that a socket read brought bytes in, and wakes the poller if it is parked.
    #[inline]
    pub(crate) fn input(&self) {
        // SeqCst on both sides pairs with `park`: either the poller sees this input after it
        // set `parked`, or this sees `parked` and wakes it.
        self.inputs.fetch_add(1, Ordering::SeqCst);
        if self.parked.load(Ordering::SeqCst) && self.parked.swap(false, Ordering::SeqCst) {
            self.wake.notify_one();
        }
    }

    /// What the poller is doing now, and its changes.
    #[cfg(test)]
    pub(crate) fn subscribe(&self) -> watch::Receiver<PollState> {
        self.state.subscribe()
    }

    /// Polls while input keeps arriving and parks when it stops, forever; abort the task to
    /// stop it.
    pub(crate) async fn run(self: Arc<Self>) {
        loop {
            self.spin().await;
            self.park().await;
        }
    }

    /// Yields to the runtime until no input has arrived for the window.
    async fn spin(&self) {
        let mut seen = self.inputs.load(Ordering::Relaxed);
        let mut last_input = Instant::now();
        loop {
            tokio::task::yield_now().await;
            let inputs = self.inputs.load(Ordering::Relaxed);
            if inputs != seen {
                seen = inputs;
                last_input = Instant::now();
            } else if last_input.elapsed() >= self.window {
                return;
            }
        }
    }

    /// Waits for the next input.
    async fn park(&self) {
        let seen = self.inputs.load(Ordering::SeqCst);
        let woken = self.wake.notified();
        tokio::pin!(woken);
        woken.as_mut().enable();
        self.parked.store(true, Ordering::SeqCst);
        if self.inputs.load(Ordering::SeqCst) == seen {
            self.state.send_modify(|state| {
                state.parked = true;
                state.parks += 1;
            });
            woken.await;
            self.state.send_modify(|state| state.parked = false);
        }
        self.parked.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A bound on each wait, so that a poller which never parks (or never wakes) fails the
    /// test instead of hanging it.
    const STUCK: Duration = Duration::from_secs(30);

    /// Waits until `state` satisfies `done`; panics if it does not within [`STUCK`].
    pub(crate) async fn wait_until(
        state: &mut watch::Receiver<PollState>,
        done: impl FnMut(&PollState) -> bool,
    ) -> PollState {
        *tokio::time::timeout(STUCK, state.wait_for(done))
            .await
            .expect("the busy poller did not reach the expected state")
            .unwrap()
    }

    /// Waits until the poller is parked; returns how many times it has parked.
    async fn parked(state: &mut watch::Receiver<PollState>) -> u64 {
        wait_until(state, |state| state.parked).await.parks
    }

    #[tokio::test]
    async fn parks_without_input_and_wakes_on_input() {
        let poll = BusyPoll::new(Duration::from_millis(1));
        let mut state = poll.subscribe();
        let task = tokio::spawn(poll.clone().run());
        let parks = parked(&mut state).await;
        assert!(state.borrow().parked);
        poll.input();
        // It woke, polled for the window and, with no more input, parked again.
        wait_until(&mut state, |state| state.parked && state.parks > parks).await;
        task.abort();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn input_from_another_thread_is_never_missed() {
        let poll = BusyPoll::new(Duration::from_micros(1));
        let mut state = poll.subscribe();
        let task = tokio::spawn(poll.clone().run());
        for _ in 0..200 {
            let parks = parked(&mut state).await;
            let remote = poll.clone();
            std::thread::spawn(move || remote.input()).join().unwrap();
            wait_until(&mut state, |state| state.parks > parks).await;
        }
        task.abort();
    }
}
