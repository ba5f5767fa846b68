//! Broker and listener settings, with the defaults documented in one place.

use std::time::Duration;

use super::access::SharedAccessControl;

/// What the broker does when a frame is routed to a client whose outbound queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Unregister and disconnect the slow client; a direct sender gets `0x77` (the original
    /// broker's rule, `protocol.md` §8.4).
    #[default]
    Disconnect,
    /// Keep the queue and drop the frame that did not fit.
    DropNewest,
    /// Drop the oldest queued frames until the new one fits.
    DropOldest,
}

/// Bounds of one client's outbound queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most frames queued at once.
    pub max_frames: usize,
    /// Most bytes queued at once, each item counted at its memory cost: its wire bytes plus
    /// [`QueueLimits::ITEM_OVERHEAD`] (frame headers included). A client that keeps up (one
    /// large frame queued, over 64 KiB or half this limit, and at most that much in smaller
    /// items) is never refused for it, so every frame a listener accepts can reach such a
    /// client, whatever this limit.
    pub max_bytes: usize,
    /// What happens when a frame does not fit.
    pub overflow: OverflowPolicy,
}

impl QueueLimits {
    /// Default frame limit: far above `busrtd`'s 8192, so the published benchmark
    /// (`busrt SOCKET benchmark -w 8 -i 1000000`) finishes; memory is bounded by `max_bytes`.
    pub const DEFAULT_MAX_FRAMES: usize = 1 << 20;
    /// What a queued item costs besides its wire bytes, counted against
    /// [`QueueLimits::max_bytes`] and [`BrokerOptions::max_queued_bytes`]: the queue slot
    /// (32 bytes) and, for a frame, the allocator's header and rounding of its buffer (up to 32)
    /// and the shared buffer's reference-counted header (32). A frame shared by several queues
    /// is counted in each, which overstates, never understates, what they hold.
    pub const ITEM_OVERHEAD: usize = 96;
    /// Default byte limit per client: 64 MiB.
    pub const DEFAULT_MAX_BYTES: usize = 64 << 20;

    /// Checks that the limits are usable (`what` names the queue in the message).
    pub fn validate(&self, what: &str) -> Result<(), String> {
        if self.max_frames == 0 {
            return Err(format!("the {what} frame limit must be at least 1"));
        }
        if self.max_bytes == 0 {
            return Err(format!("the {what} byte limit must be at least 1"));
        }
        Ok(())
    }
}

impl Default for QueueLimits {
    fn default() -> Self {
        QueueLimits {
            max_frames: Self::DEFAULT_MAX_FRAMES,
            max_bytes: Self::DEFAULT_MAX_BYTES,
            overflow: OverflowPolicy::Disconnect,
        }
    }
}

/// Broker-wide options.
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Evict the previous instance when a primary name is registered again (`busrtd
    /// --force-register`), instead of answering `0x76`.
    pub force_register: bool,
    /// Queue limits of in-process clients. Their overflow policy is always a drop (they are
    /// never disconnected; [`OverflowPolicy::Disconnect`] here means drop-newest), so an
    /// in-process sender can never be blocked by a slow target.
    pub internal_queue: QueueLimits,
    /// Length of an in-process client's incoming frame channel.
    pub internal_channel_size: usize,
    /// How long a runtime worker keeps polling the sockets after the last input before it may
    /// sleep (see [`BrokerOptions::DEFAULT_SERVER_BUSY_POLL`]). Zero, the default for an
    /// embedded broker, never polls: the broker does not spend its host's CPU unless asked to.
    pub busy_poll: Duration,
    /// Most bytes queued for all clients together, counted as [`QueueLimits::max_bytes`] is
    /// (each item at its memory cost, items a writer has taken until they are written). When a
    /// frame would exceed it, its target pays under its own overflow policy unless the target
    /// keeps up (as for [`QueueLimits::max_bytes`]): a client that keeps up is never refused.
    /// Default
    /// [`BrokerOptions::DEFAULT_MAX_QUEUED_BYTES`].
    pub max_queued_bytes: usize,
    /// Most bytes of large frames being read from all socket clients together. A frame larger
    /// than the listener's `buf_size` reserves its whole length before its body is read; a
    /// reader that cannot get it waits (reading nothing more from its socket) within the frame
    /// timeout. Must be at least the largest frame a listener accepts. Default
    /// [`BrokerOptions::DEFAULT_MAX_READING_BYTES`].
    pub max_reading_bytes: usize,
}

impl BrokerOptions {
    /// The busy-poll window `elbusd` uses unless told otherwise. Keeping one worker polling
    /// for 10 µs after input removes most sleep/wake-up round trips under load (on a 2-core
    /// VM it raised the published benchmark's `rpc.call+handle` by about 40%), while an idle
    /// broker parks after 10 µs and costs nothing.
    pub const DEFAULT_SERVER_BUSY_POLL: Duration = Duration::from_micros(10);
    /// Default broker-wide queue bound: 256 MiB, four clients at the default per-client bound
    /// ([`QueueLimits::DEFAULT_MAX_BYTES`]). Far above what a bus whose clients keep up
    /// queues, while N clients that stop reading can no longer take N × 64 MiB.
    pub const DEFAULT_MAX_QUEUED_BYTES: usize = 256 << 20;
    /// Default broker-wide bound of frames being read: 256 MiB, four maximal frames
    /// ([`ServerConfig::DEFAULT_MAX_FRAME_SIZE`]) at once.
    pub const DEFAULT_MAX_READING_BYTES: usize = 256 << 20;

    /// Checks that the options are usable: a clear message for the first one that is not.
    pub fn validate(&self) -> Result<(), String> {
        self.internal_queue.validate("internal queue")?;
        if self.internal_channel_size == 0 {
            return Err("the in-process channel size must be at least 1".into());
        }
        if self.max_queued_bytes == 0 {
            return Err("the broker-wide queue bound (max queued bytes) must be at least 1".into());
        }
        if self.max_reading_bytes == 0 {
            return Err(
                "the broker-wide reading bound (max reading bytes) must be at least 1".into(),
            );
        }
        Ok(())
    }
}

impl Default for BrokerOptions {
    fn default() -> Self {
        BrokerOptions {
            force_register: false,
            internal_queue: QueueLimits {
                overflow: OverflowPolicy::DropNewest,
                ..QueueLimits::default()
            },
            internal_channel_size: crate::DEFAULT_QUEUE_SIZE,
            busy_poll: Duration::ZERO,
            max_queued_bytes: Self::DEFAULT_MAX_QUEUED_BYTES,
            max_reading_bytes: Self::DEFAULT_MAX_READING_BYTES,
        }
    }
}

/// Settings of one socket listener (UNIX or TCP) and of the clients it accepts.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Socket read buffer size, and the size a write batch aims for.
    pub buf_size: usize,
    /// Bound of the whole handshake (one deadline from accepting the connection to the
    /// registration answer), of every socket write, and of reading a frame body once its header
    /// arrived. The broker sends a keepalive NOP every `timeout / 2`.
    pub timeout: Duration,
    /// How long a client may stay silent (no frame, no ping) before it is disconnected;
    /// `None` never disconnects. Default: `1.25 × timeout`, as busrt 0.5.6.
    pub idle_timeout: Option<Duration>,
    /// Largest frame body accepted; a client announcing a larger one is disconnected before
    /// anything is allocated.
    pub max_frame_size: u32,
    /// Outbound queue bounds of each client.
    pub queue: QueueLimits,
    /// Permission bits of a UNIX socket file (a client needs write permission to connect).
    /// Default [`ServerConfig::DEFAULT_UNIX_MODE`]; `None` leaves what the process umask gives,
    /// as busrtd does. Ignored by TCP listeners.
    pub unix_mode: Option<u32>,
    /// Group (gid) of a UNIX socket file; `None`: the broker process's group.
    pub unix_group: Option<u32>,
    /// Access-control rules of the clients this listener accepts; `None` (the default): no
    /// checks at all, the behaviour of `protocol.md`.
    pub access: Option<SharedAccessControl>,
}

impl ServerConfig {
    /// Default largest frame body: 64 MiB.
    pub const DEFAULT_MAX_FRAME_SIZE: u32 = 64 << 20;
    /// Default UNIX socket mode: owner and group may connect, others may not, whatever the
    /// umask. Safer than the umask-derived mode of busrtd (0o777 under a 0 umask) and no
    /// narrower for the usual umask 022, under which only the owner (and root) could connect.
    pub const DEFAULT_UNIX_MODE: u32 = 0o660;

    /// The defaults, with `timeout` = 1 s (the library default) and the idle limit derived from it.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the timeout, and the idle limit to `1.25 × timeout` unless it was set explicitly.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        if self.idle_timeout == Some(self.timeout.mul_f64(1.25)) {
            self.idle_timeout = Some(timeout.mul_f64(1.25));
        }
        self.timeout = timeout;
        self
    }

    /// Sets the idle limit (`None`: never disconnect idle clients).
    pub fn idle_timeout(mut self, idle_timeout: Option<Duration>) -> Self {
        self.idle_timeout = idle_timeout;
        self
    }

    /// Sets the socket buffer size.
    pub fn buf_size(mut self, buf_size: usize) -> Self {
        self.buf_size = buf_size;
        self
    }

    /// Sets the largest accepted frame body.
    pub fn max_frame_size(mut self, max_frame_size: u32) -> Self {
        self.max_frame_size = max_frame_size;
        self
    }

    /// Sets the outbound queue bounds.
    pub fn queue(mut self, queue: QueueLimits) -> Self {
        self.queue = queue;
        self
    }

    /// Sets the UNIX socket file mode (`None`: leave the umask-derived mode).
    pub fn unix_mode(mut self, mode: Option<u32>) -> Self {
        self.unix_mode = mode;
        self
    }

    /// Sets the UNIX socket file group (`None`: the process's group).
    pub fn unix_group(mut self, gid: Option<u32>) -> Self {
        self.unix_group = gid;
        self
    }

    /// Checks that the settings are usable with the broker's `options` (the limits must allow
    /// every frame this listener accepts to be read and delivered): a clear message for the
    /// first one that is not. The listeners check it before they bind.
    pub fn validate(&self, options: &BrokerOptions) -> Result<(), String> {
        if self.max_frame_size == 0 {
            return Err("the largest frame (max frame size) must be at least 1 byte".into());
        }
        if self.buf_size == 0 {
            return Err("the buffer size must be at least 1 byte".into());
        }
        self.queue.validate("client queue")?;
        let largest_read = crate::protocol::REQUEST_HEADER_LEN + self.max_frame_size as usize;
        if options.max_reading_bytes < largest_read {
            return Err(format!(
                "the broker-wide reading bound ({} bytes) must hold the largest frame accepted \
                 ({largest_read} bytes with its header)",
                options.max_reading_bytes
            ));
        }
        Ok(())
    }

    /// Checks the clients of this listener against `rules` (an [`AccessControl`] or a
    /// [`SharedAccessControl`] that can be swapped later).
    ///
    /// [`AccessControl`]: super::AccessControl
    pub fn access_control(mut self, rules: impl Into<SharedAccessControl>) -> Self {
        self.access = Some(rules.into());
        self
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            buf_size: 16 * 1024,
            timeout: crate::DEFAULT_TIMEOUT,
            idle_timeout: Some(crate::DEFAULT_TIMEOUT.mul_f64(1.25)),
            max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
            queue: QueueLimits::default(),
            unix_mode: Some(Self::DEFAULT_UNIX_MODE),
            unix_group: None,
            access: None,
        }
    }
}
