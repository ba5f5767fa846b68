//! `elbus PATH top`: a live view of a broker, refreshed every `--interval`, or one JSON
//! snapshot with `--once --json`.
//!
//! | module | what it is |
//! |---|---|
//! | `sample` | one reading of `.broker` `stats`, `client.list` and `topic.list` |
//! | `model` | rates from two samples, the JSON snapshot |
//! | `sort` | the clients' sort column and order, and the keys that change them |
//! | `view` | the screen, a pure function of the model and the sort |
//!
//! The terminal is put back (raw mode off, main screen, cursor shown) when the view ends for
//! any reason: quitting, an error (the broker went away), or a panic (ratatui's panic hook).

mod model;
mod sample;
mod sort;
mod view;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use model::Model;
use sample::Sample;
use sort::{Key, KeyAction, Sort};

use super::args::TopArgs;
use super::context::Context;
use super::error::CliError;
use super::output::Style;
use crate::rpc::DummyHandlers;

/// Runs `top`.
pub(crate) async fn run(ctx: &Context<'_>, args: &TopArgs) -> Result<(), CliError> {
    let json = ctx.out.style() == Style::Json;
    if args.once && !json {
        return Err(CliError::usage("top --once prints JSON: add --json"));
    }
    let on_terminal = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if !args.once && !on_terminal {
        return Err(CliError::usage(
            "top needs a terminal; for scripts use top --once --json",
        ));
    }
    let rpc = ctx.connect_rpc(DummyHandlers).await?;
    let result = if args.once {
        once(ctx, &rpc, args.interval()).await
    } else {
        live(ctx, &rpc, args.interval()).await
    };
    rpc.client().disconnect().await;
    result
}

/// Two samples one interval apart, printed as one JSON document.
async fn once(
    ctx: &Context<'_>,
    rpc: &crate::rpc::RpcClient<crate::ipc::Client>,
    interval: Duration,
) -> Result<(), CliError> {
    let first = sample::fetch(rpc, &ctx.name).await?;
    let started = Instant::now();
    tokio::time::sleep(interval).await;
    let second = sample::fetch(rpc, &ctx.name).await?;
    let secs = started.elapsed().as_secs_f64();
    let model = Model::new(Some(&first), &second, secs);
    ctx.out.json(&model.to_json(), false)
}

/// The interactive view, until a quit key or an error.
async fn live(
    ctx: &Context<'_>,
    rpc: &crate::rpc::RpcClient<crate::ipc::Client>,
    interval: Duration,
) -> Result<(), CliError> {
    // The first sample before the screen changes: a broker that does not answer is reported
    // on a terminal left as it was.
    let mut before: Sample = sample::fetch(rpc, &ctx.name).await?;
    let mut taken = Instant::now();
    let mut model = Model::new(None, &before, 0.0);
    let mut sort = Sort::default();
    let (mut screen, mut keys) = Screen::enter()?;
    let mut next = tokio::time::Instant::now() + interval;
    loop {
        screen.draw(&model, &sort, &ctx.args.path)?;
        tokio::select! {
            () = tokio::time::sleep_until(next) => {
                let now = sample::fetch(rpc, &ctx.name).await?;
                let secs = taken.elapsed().as_secs_f64();
                taken = Instant::now();
                model = Model::new(Some(&before), &now, secs);
                before = now;
                next = tokio::time::Instant::now() + interval;
            }
            key = keys.recv() => match key {
                Some(Input::Key(key)) => {
                    if sort.on_key(key) == KeyAction::Quit {
                        return Ok(());
                    }
                }
                Some(Input::Resize) => {}
                Some(Input::Failed(err)) => {
                    return Err(CliError::io("reading the terminal", &err));
                }
                None => return Ok(()),
            },
        }
    }
}

/// What the terminal reader thread hands over.
enum Input {
    Key(Key),
    Resize,
    Failed(std::io::Error),
}

/// The terminal in raw mode on the alternate screen, and the thread reading its keys; both
/// are put back on drop.
struct Screen {
    terminal: DefaultTerminal,
    stop: Arc<AtomicBool>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Screen {
    /// Raw mode, alternate screen, and ratatui's panic hook that restores both; with the
    /// keys read from the terminal.
    fn enter() -> Result<(Screen, mpsc::UnboundedReceiver<Input>), CliError> {
        let terminal = ratatui::try_init().map_err(|err| {
            ratatui::restore();
            CliError::io("setting up the terminal", &err)
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::unbounded_channel();
        let reader = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("top-keys".to_owned())
                .spawn(move || read_keys(&stop, &tx))
        };
        let reader = match reader {
            Ok(reader) => reader,
            Err(err) => {
                ratatui::restore();
                return Err(CliError::io("starting the key reader", &err));
            }
        };
        let screen = Screen {
            terminal,
            stop,
            reader: Some(reader),
        };
        Ok((screen, rx))
    }

    fn draw(&mut self, model: &Model, sort: &Sort, broker: &str) -> Result<(), CliError> {
        self.terminal
            .draw(|frame| view::render(frame, model, sort, broker))
            .map(drop)
            .map_err(|err| CliError::io("drawing the terminal", &err))
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let _ = self.terminal.show_cursor();
        ratatui::restore();
    }
}

/// How often the reader thread checks whether the view has ended.
const KEY_POLL: Duration = Duration::from_millis(100);

/// Reads terminal events until `stop` or the receiver is gone; hands over keys and resizes.
fn read_keys(stop: &AtomicBool, tx: &mpsc::UnboundedSender<Input>) {
    while !stop.load(Ordering::Relaxed) && !tx.is_closed() {
        let input = match event::poll(KEY_POLL) {
            Ok(false) => continue,
            Ok(true) => match event::read() {
                Ok(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
                    match key.code {
                        KeyCode::Char('c') if ctrl => Input::Key(Key::CtrlC),
                        KeyCode::Char(c) => Input::Key(Key::Char(c)),
                        KeyCode::Esc => Input::Key(Key::Esc),
                        KeyCode::Left => Input::Key(Key::Left),
                        KeyCode::Right => Input::Key(Key::Right),
                        _ => continue,
                    }
                }
                Ok(Event::Resize(..)) => Input::Resize,
                Ok(_) => continue,
                Err(err) => Input::Failed(err),
            },
            Err(err) => Input::Failed(err),
        };
        let failed = matches!(input, Input::Failed(_));
        if tx.send(input).is_err() || failed {
            return;
        }
    }
}
