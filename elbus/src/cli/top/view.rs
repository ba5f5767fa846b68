//! The `top` screen as a pure function of the [`Model`] and the [`Sort`]: totals, the clients
//! table, the topics table and the help line. Names and topics are shown with their control
//! characters escaped, as in the broker's logs.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

use super::model::{Model, TopicRow};
use super::sort::{Column, Sort};

/// The help line at the bottom of the screen.
pub(crate) const HELP: &str =
    "q/Esc/Ctrl-C quit   \u{2190}/\u{2192} or </> sort column   r reverse";

/// Draws the whole screen for `broker` (the PATH shown in the title).
pub(crate) fn render(frame: &mut Frame<'_>, model: &Model, sort: &Sort, broker: &str) {
    let [head, clients, topics, help] = Layout::vertical([
        Constraint::Length(3),
        Constraint::Fill(3),
        Constraint::Fill(2),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(totals_lines(model, broker)), head);
    render_clients(frame, clients, model, sort);
    render_topics(frame, topics, model);
    frame.render_widget(
        Paragraph::new(HELP).style(Style::new().add_modifier(Modifier::REVERSED)),
        help,
    );
}

fn totals_lines(model: &Model, broker: &str) -> Vec<Line<'static>> {
    let t = &model.totals;
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), count);
    let over = if model.secs > 0.0 {
        format!("rates over {:.1}s", model.secs)
    } else {
        "rates from the next sample".to_owned()
    };
    vec![
        Line::from(format!(
            "elbus top {}   uptime {}   clients {}   {over}",
            shown(broker),
            uptime(t.totals.uptime),
            opt(t.totals.clients),
        )),
        Line::from(format!(
            "in  {} fr/s {}/s   out {} fr/s {}/s",
            rate(t.r_frames),
            bytes(t.r_bytes),
            rate(t.w_frames),
            bytes(t.w_bytes)
        )),
        Line::from(format!(
            "dropped {} ({}/s)   denied {} ({}/s)   forced disconnects {}",
            opt(t.totals.dropped_frames),
            rate(t.dropped_frames),
            opt(t.totals.denied),
            rate(t.denied),
            opt(t.totals.forced_disconnects)
        )),
    ]
}

fn render_clients(frame: &mut Frame<'_>, area: Rect, model: &Model, sort: &Sort) {
    let marker = if sort.reversed {
        '\u{25b2}'
    } else {
        '\u{25bc}'
    };
    let header = Row::new(Column::ALL.iter().map(|column| {
        if *column == sort.column {
            format!("{}{marker}", column.header())
        } else {
            column.header().to_owned()
        }
    }))
    .style(Style::new().add_modifier(Modifier::BOLD));
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), count);
    let rows = sort.apply(&model.clients).into_iter().map(|c| {
        Row::new([
            shown(&c.name),
            rate(c.r_frames),
            bytes(c.r_bytes),
            rate(c.w_frames),
            bytes(c.w_bytes),
            count(c.queue),
            c.queue_bytes
                .map_or_else(|| "-".to_owned(), |b| bytes(b as f64)),
            opt(c.dropped_frames),
            opt(c.denied),
        ])
    });
    let mut widths = vec![Constraint::Fill(1)];
    widths.extend([Constraint::Length(10); 8]);
    let table = Table::new(rows, widths).header(header).block(
        Block::new()
            .borders(Borders::TOP)
            .title(format!(" clients ({}) ", model.clients.len())),
    );
    frame.render_widget(table, area);
}

fn render_topics(frame: &mut Frame<'_>, area: Rect, model: &Model) {
    let Some(topics) = &model.topics else {
        let block = Block::new().borders(Borders::TOP).title(" topics ");
        let text = Paragraph::new("the broker has no topic.list method (busrtd)").block(block);
        frame.render_widget(text, area);
        return;
    };
    let header = Row::new(["topic", "pub/s", "B/s", "deliv/s", "deliv B/s", "pubs"])
        .style(Style::new().add_modifier(Modifier::BOLD));
    let row = |t: &TopicRow| {
        Row::new([
            shown(&t.topic),
            rate(t.publications),
            bytes(t.bytes),
            rate(t.deliveries),
            bytes(t.delivered_bytes),
            count(t.total.publications),
        ])
    };
    let mut rows: Vec<Row<'_>> = topics.iter().map(row).collect();
    let mut title = format!(" topics by traffic ({}) ", topics.len());
    if let Some((other, tracked, max)) = &model.topics_other {
        if other.total.publications > 0 {
            rows.push(row(other));
        }
        title = format!(" topics by traffic ({tracked} of at most {max} tracked) ");
    }
    let mut widths = vec![Constraint::Fill(1)];
    widths.extend([Constraint::Length(10); 5]);
    let table = Table::new(rows, widths)
        .header(header)
        .block(Block::new().borders(Borders::TOP).title(title));
    frame.render_widget(table, area);
}

/// A name or topic a client chose, its control characters escaped: terminal escape sequences
/// in it must not reach the terminal.
fn shown(text: &str) -> String {
    crate::logging::Escaped(text).to_string()
}

/// A count with `_` thousands separators.
fn count(n: u64) -> String {
    crate::cli::table::thousands_u64(n)
}

/// A rate: whole numbers up to 9 999, then k and M with one decimal.
fn rate(value: f64) -> String {
    if value < 9_999.5 {
        format!("{value:.0}")
    } else if value < 9_999_500.0 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{:.1}M", value / 1e6)
    }
}

/// Bytes (or bytes/s): whole bytes up to 9 999, then KiB, MiB, GiB with one decimal.
fn bytes(value: f64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if value < 9_999.5 {
        return format!("{value:.0}");
    }
    let mut scaled = value / 1024.0;
    for unit in &UNITS[..2] {
        if scaled < 1024.0 {
            return format!("{scaled:.1}{unit}");
        }
        scaled /= 1024.0;
    }
    format!("{scaled:.1}{}", UNITS[2])
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h:02}h{m:02}m")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::super::model::Model;
    use super::super::sample::{ClientSample, Sample, TopicSample, Topics, Traffic};
    use super::super::sort::Key;
    use super::*;

    fn sample(frames: u64, bytes: u64, topic_bytes: u64) -> Sample {
        let client = |name: &str, frames: u64, bytes: u64| ClientSample {
            name: name.to_owned(),
            kind: "local_ipc".to_owned(),
            r_frames: frames,
            r_bytes: bytes,
            queue: 3,
            queue_bytes: Some(345),
            dropped_frames: Some(0),
            denied: Some(0),
            ..ClientSample::default()
        };
        Sample {
            clients: vec![client("sensor.pub", frames, bytes), client("idle", 0, 0)],
            topics: Some(Topics {
                topics: vec![TopicSample {
                    topic: "sensors/t1".to_owned(),
                    traffic: Traffic {
                        publications: frames,
                        bytes: topic_bytes,
                        ..Traffic::default()
                    },
                }],
                tracked: 1,
                max_tracked: 1024,
                ..Topics::default()
            }),
            ..Sample::default()
        }
    }

    /// The screen as lines of text.
    fn draw(model: &Model, sort: &Sort) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(120, 24)).unwrap();
        terminal
            .draw(|frame| render(frame, model, sort, "/tmp/b.sock"))
            .unwrap();
        let buffer = terminal.backend().buffer();
        (0..buffer.area.height)
            .map(|y| {
                (0..buffer.area.width)
                    .map(|x| buffer[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect()
    }

    fn line_with<'a>(lines: &'a [String], text: &str) -> &'a str {
        lines
            .iter()
            .find(|line| line.contains(text))
            .unwrap_or_else(|| panic!("{text:?} not on screen:\n{}", lines.join("\n")))
    }

    #[test]
    fn client_rows_show_rates_and_the_sort_marker_moves() {
        let model = Model::new(
            Some(&sample(100, 10_000, 1_000)),
            &sample(150, 30_000, 3_000),
            2.0,
        );
        let mut sort = Sort::default();
        let lines = draw(&model, &sort);
        let row: Vec<&str> = line_with(&lines, "sensor.pub").split_whitespace().collect();
        // 50 frames and 20 000 bytes in 2 s; the queue as reported.
        assert_eq!(row[..3], ["sensor.pub", "25", "9.8KiB"], "{row:?}");
        assert_eq!(row[5..7], ["3", "345"], "{row:?}");
        let topic: Vec<&str> = line_with(&lines, "sensors/t1").split_whitespace().collect();
        assert_eq!(topic[..3], ["sensors/t1", "25", "1000"], "{topic:?}");
        assert!(line_with(&lines, "fr in/s").contains("B in/s\u{25bc}"));
        assert!(lines.last().unwrap().starts_with("q/Esc/Ctrl-C quit"));
        // The busiest client first, by bytes in.
        let first = lines.iter().position(|l| l.contains("sensor.pub")).unwrap();
        let idle = lines.iter().position(|l| l.contains("idle")).unwrap();
        assert!(first < idle);

        sort.on_key(Key::Right);
        let lines = draw(&model, &sort);
        let header = line_with(&lines, "fr in/s");
        assert!(header.contains("fr out/s\u{25bc}"), "{header}");
        assert!(!header.contains("B in/s\u{25bc}"), "{header}");
        sort.on_key(Key::Char('r'));
        let lines = draw(&model, &sort);
        assert!(line_with(&lines, "fr in/s").contains("fr out/s\u{25b2}"));
    }

    #[test]
    fn a_broker_without_topic_list() {
        let mut now = sample(1, 1, 1);
        now.topics = None;
        let lines = draw(&Model::new(None, &now, 1.0), &Sort::default());
        line_with(&lines, "no topic.list method");
    }

    #[test]
    fn units() {
        assert_eq!(rate(0.4), "0");
        assert_eq!(rate(12_345.0), "12.3k");
        assert_eq!(bytes(9_999.0), "9999");
        assert_eq!(bytes(10_240.0), "10.0KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0GiB");
        assert_eq!(uptime(3_725), "01:02:05");
        assert_eq!(uptime(90_000), "1d01h00m");
        assert_eq!(shown("a\u{1b}[2J"), "a\\u{1b}[2J");
    }
}
