//! How `top` sorts the clients: the columns, the sort state and the keys that change it.

use super::model::ClientRow;

/// The columns of the clients table, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    Name,
    FramesIn,
    BytesIn,
    FramesOut,
    BytesOut,
    Queue,
    QueueBytes,
    Dropped,
    Denied,
}

impl Column {
    /// Every column, left to right.
    pub const ALL: [Column; 9] = [
        Column::Name,
        Column::FramesIn,
        Column::BytesIn,
        Column::FramesOut,
        Column::BytesOut,
        Column::Queue,
        Column::QueueBytes,
        Column::Dropped,
        Column::Denied,
    ];

    /// The header text.
    pub fn header(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::FramesIn => "fr in/s",
            Column::BytesIn => "B in/s",
            Column::FramesOut => "fr out/s",
            Column::BytesOut => "B out/s",
            Column::Queue => "queue",
            Column::QueueBytes => "queue B",
            Column::Dropped => "dropped",
            Column::Denied => "denied",
        }
    }

    fn key(self, row: &ClientRow) -> f64 {
        let opt = |v: Option<u64>| v.map_or(-1.0, |v| v as f64);
        match self {
            Column::Name => 0.0,
            Column::FramesIn => row.r_frames,
            Column::BytesIn => row.r_bytes,
            Column::FramesOut => row.w_frames,
            Column::BytesOut => row.w_bytes,
            Column::Queue => row.queue as f64,
            Column::QueueBytes => opt(row.queue_bytes),
            Column::Dropped => opt(row.dropped_frames),
            Column::Denied => opt(row.denied),
        }
    }
}

/// How the clients are sorted: a column, numbers most first and names A to Z unless reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sort {
    pub column: Column,
    pub reversed: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            column: Column::BytesIn,
            reversed: false,
        }
    }
}

/// What a key asks of the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyAction {
    Quit,
    Redraw,
    Ignore,
}

/// The keys `top` reads, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Char(char),
    CtrlC,
    Esc,
    Left,
    Right,
}

impl Sort {
    /// Applies `key`: q, Esc, Ctrl-C quit; Left/Right and `<` `>` move the sort column; r
    /// reverses it.
    pub fn on_key(&mut self, key: Key) -> KeyAction {
        let index = Column::ALL
            .iter()
            .position(|c| *c == self.column)
            .unwrap_or(0);
        let count = Column::ALL.len();
        match key {
            Key::Char('q') | Key::Esc | Key::CtrlC => return KeyAction::Quit,
            Key::Left | Key::Char('<') => self.column = Column::ALL[(index + count - 1) % count],
            Key::Right | Key::Char('>') => self.column = Column::ALL[(index + 1) % count],
            Key::Char('r') => self.reversed = !self.reversed,
            _ => return KeyAction::Ignore,
        }
        KeyAction::Redraw
    }

    /// `rows` in this order.
    pub fn apply<'a>(&self, rows: &'a [ClientRow]) -> Vec<&'a ClientRow> {
        let mut sorted: Vec<&ClientRow> = rows.iter().collect();
        sorted.sort_by(|a, b| {
            let order = match self.column {
                Column::Name => a.name.cmp(&b.name),
                column => column
                    .key(b)
                    .total_cmp(&column.key(a))
                    .then_with(|| a.name.cmp(&b.name)),
            };
            if self.reversed {
                order.reverse()
            } else {
                order
            }
        });
        sorted
    }
}
