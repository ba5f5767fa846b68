//! Broker and listener settings, with the defaults documented in one place.

use std::time::Duration;

use super::access::SharedAccessControl;
use super::path_limits::PathLimits;
use crate::Error;

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
    /// (48 bytes) and, for a frame, the allocator's header and rounding of its buffer (up to 32)
    /// and the shared buffer's reference-counted header (32). A frame shared by several queues
    /// is counted in each, which overstates, never understates, what they hold.
    pub const ITEM_OVERHEAD: usize = 112;
    /// Default byte limit per client: 64 MiB.
    pub const DEFAULT_MAX_BYTES: usize = 64 << 20;
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
    /// Bounds of client names (checked at registration, `0x72` when exceeded) and of broadcast
    /// masks (ACK `0x72`). Default [`PathLimits::default`]: 1 KiB, 128 parts.
    pub name_limits: PathLimits,
    /// Bounds of published topics and of subscription and exclusion patterns (ACK `0x72`).
    /// Default [`PathLimits::default`]: 1 KiB, 128 parts.
    pub topic_limits: PathLimits,
    /// Most subscriptions and exclusions one client may hold together (the automatic
    /// `.broker/warn` subscription included); each pattern past it is refused (ACK `0x74`).
    /// Default [`BrokerOptions::DEFAULT_MAX_SUBSCRIPTIONS`].
    pub max_subscriptions: usize,
}

impl BrokerOptions {
    /// Default [`BrokerOptions::max_subscriptions`]: 10,000 patterns, about 3 MiB of broker
    /// memory for short patterns and at most about 30 MiB for patterns at the size bounds.
    pub const DEFAULT_MAX_SUBSCRIPTIONS: usize = 10_000;

    /// The busy-poll window `elbusd` uses unless told otherwise. Keeping one worker polling
    /// for 10 µs after input removes most sleep/wake-up round trips under load (the README's
    /// performance section has the measurements), while an idle broker parks after 10 µs and
    /// costs nothing.
    pub const DEFAULT_SERVER_BUSY_POLL: Duration = Duration::from_micros(10);
    /// Default broker-wide queue bound: 256 MiB, four clients at the default per-client bound
    /// ([`QueueLimits::DEFAULT_MAX_BYTES`]). Far above what a bus whose clients keep up
    /// queues, while N clients that stop reading can no longer take N × 64 MiB.
    pub const DEFAULT_MAX_QUEUED_BYTES: usize = 256 << 20;
    /// Default broker-wide bound of frames being read: 256 MiB, four maximal frames
    /// ([`ServerConfig::DEFAULT_MAX_FRAME_SIZE`]) at once.
    pub const DEFAULT_MAX_READING_BYTES: usize = 256 << 20;
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
            name_limits: PathLimits::default(),
            topic_limits: PathLimits::default(),
            max_subscriptions: Self::DEFAULT_MAX_SUBSCRIPTIONS,
        }
    }
}

/// Settings of one socket listener (UNIX or TCP) and of the clients it accepts.
///
/// Per listener, so one broker can serve a local socket and a TCP port with different limits;
/// named after busrt's type of the same role so code moving from busrt reads the same.
/// Broker-wide settings are [`BrokerOptions`].
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
        if self.idle_timeout == Some(default_idle_timeout(self.timeout)) {
            self.idle_timeout = Some(default_idle_timeout(timeout));
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

    /// Checks the settings ([`ServerConfig::validate`]) and that they are usable with the
    /// broker's `options`: the broker-wide reading bound must hold the largest frame this
    /// listener accepts, so every accepted frame can be read. The listeners check it before they
    /// bind.
    pub fn validate_with(&self, options: &BrokerOptions) -> Result<(), Error> {
        self.validate()?;
        let largest_read = crate::protocol::REQUEST_HEADER_LEN + self.max_frame_size as usize;
        if options.max_reading_bytes < largest_read {
            return Err(Error::data(format!(
                "the broker-wide reading bound ({} bytes) must hold the largest frame accepted \
                 ({largest_read} bytes with its header)",
                options.max_reading_bytes
            )));
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
            idle_timeout: Some(default_idle_timeout(crate::DEFAULT_TIMEOUT)),
            max_frame_size: Self::DEFAULT_MAX_FRAME_SIZE,
            queue: QueueLimits::default(),
            unix_mode: Some(Self::DEFAULT_UNIX_MODE),
            unix_group: None,
            access: None,
        }
    }
}

// Bounds of the settings above, checked where the settings are used (`Broker::spawn_*_server`,
// `Broker::register_client`) and by `elbusd`'s option parser, so that a bad value is a clear
// error at start-up instead of a panic or an unusable bus later.

impl ServerConfig {
    /// Smallest [`ServerConfig::buf_size`]: 512 bytes.
    pub const MIN_BUF_SIZE: usize = 512;
    /// Largest [`ServerConfig::buf_size`]: 16 MiB. Each connection allocates its read buffer
    /// at this size, so a larger one only multiplies the memory of idle clients.
    pub const MAX_BUF_SIZE: usize = 16 << 20;
    /// Shortest [`ServerConfig::timeout`] and [`ServerConfig::idle_timeout`]: 1 ms.
    pub const MIN_TIMEOUT: Duration = Duration::from_millis(1);
    /// Longest [`ServerConfig::timeout`] and [`ServerConfig::idle_timeout`]: one day. Longer
    /// bounds mean no bound in practice, and deadlines computed from them must not overflow.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
    /// Smallest [`ServerConfig::max_frame_size`]: 256 bytes, room for any `.broker` call and
    /// ordinary names and topics.
    pub const MIN_MAX_FRAME_SIZE: u32 = 256;

    /// Checks every setting against its documented bound; `Data` with the setting, the value
    /// and the bound otherwise.
    pub fn validate(&self) -> Result<(), Error> {
        check_range(
            "ServerConfig::buf_size",
            self.buf_size,
            Self::MIN_BUF_SIZE,
            Self::MAX_BUF_SIZE,
        )?;
        check_duration("ServerConfig::timeout", self.timeout)?;
        if let Some(idle) = self.idle_timeout {
            check_duration("ServerConfig::idle_timeout", idle)?;
        }
        check_range(
            "ServerConfig::max_frame_size",
            self.max_frame_size,
            Self::MIN_MAX_FRAME_SIZE,
            u32::MAX,
        )?;
        if let Some(mode) = self.unix_mode {
            check_range("ServerConfig::unix_mode", mode, 0, 0o777)?;
        }
        self.queue.validate()
    }
}

impl QueueLimits {
    /// Smallest [`QueueLimits::max_bytes`]: 4 KiB.
    pub const MIN_MAX_BYTES: usize = 4 << 10;

    /// Checks the limits: at least one frame and [`QueueLimits::MIN_MAX_BYTES`].
    pub fn validate(&self) -> Result<(), Error> {
        check_range("QueueLimits::max_frames", self.max_frames, 1, usize::MAX)?;
        check_range(
            "QueueLimits::max_bytes",
            self.max_bytes,
            Self::MIN_MAX_BYTES,
            usize::MAX,
        )
    }
}

impl BrokerOptions {
    /// Longest [`BrokerOptions::busy_poll`] window: 1 s (a longer one is a spinning core).
    pub const MAX_BUSY_POLL: Duration = Duration::from_secs(1);

    /// Checks the options against their bounds; `Data` otherwise.
    pub fn validate(&self) -> Result<(), Error> {
        check_range(
            "BrokerOptions::busy_poll",
            self.busy_poll,
            Duration::ZERO,
            Self::MAX_BUSY_POLL,
        )?;
        check_range(
            "BrokerOptions::internal_channel_size",
            self.internal_channel_size,
            1,
            usize::MAX,
        )?;
        check_range(
            "BrokerOptions::max_queued_bytes",
            self.max_queued_bytes,
            QueueLimits::MIN_MAX_BYTES,
            usize::MAX,
        )?;
        check_range(
            "BrokerOptions::max_reading_bytes",
            self.max_reading_bytes,
            QueueLimits::MIN_MAX_BYTES,
            usize::MAX,
        )?;
        for (setting, value) in [
            (
                "BrokerOptions::name_limits.max_bytes",
                self.name_limits.max_bytes,
            ),
            (
                "BrokerOptions::name_limits.max_parts",
                self.name_limits.max_parts,
            ),
            (
                "BrokerOptions::topic_limits.max_bytes",
                self.topic_limits.max_bytes,
            ),
            (
                "BrokerOptions::topic_limits.max_parts",
                self.topic_limits.max_parts,
            ),
            ("BrokerOptions::max_subscriptions", self.max_subscriptions),
        ] {
            check_range(setting, value, 1, usize::MAX)?;
        }
        self.internal_queue.validate()
    }
}

/// `1.25 × timeout`, saturating (an out-of-range timeout is refused by
/// [`ServerConfig::validate`], not by a panic in the builder).
fn default_idle_timeout(timeout: Duration) -> Duration {
    timeout
        .checked_mul(5)
        .map_or(Duration::MAX, |five| five / 4)
}

fn check_range<T: PartialOrd + std::fmt::Debug>(
    setting: &str,
    value: T,
    min: T,
    max: T,
) -> Result<(), Error> {
    if value < min || value > max {
        return Err(Error::data(format!(
            "invalid {setting} {value:?}: must be between {min:?} and {max:?}"
        )));
    }
    Ok(())
}

fn check_duration(setting: &str, value: Duration) -> Result<(), Error> {
    check_range(
        setting,
        value,
        ServerConfig::MIN_TIMEOUT,
        ServerConfig::MAX_TIMEOUT,
    )
}
