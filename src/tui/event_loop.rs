//! The event loop: key presses, clicks, worker messages and ticks become [`Action`]s, each
//! batch of them one frame, and the app's [`Command`]s go to the workers. After laying out a
//! frame it tells the app where the lists are ([`Action::Layout`]); with a graphics protocol
//! it has the [`Painter`] print the photos around the frame.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use crossterm::event::{Event as TermEvent, MouseButton, MouseEventKind};
use ratatui::backend::Backend;
use ratatui::Terminal;

use super::action::{Action, ListRows, Msg};
use super::app::App;
use super::blocks::ColorMode;
use super::graphics::Painter;
use super::log;
use super::view::{self, Display, Photos};
use super::worker::Workers;

/// Where key presses come from: the terminal, or a script (benchmarks).
pub trait Input {
    /// The next event within `timeout`, with the moment it happened.
    fn poll(&mut self, timeout: Duration) -> Result<Option<(TermEvent, Instant)>>;

    /// The pixel size of one cell of the terminal the keys come from, as it reports it now;
    /// `None` where it reports none (a script has no cells: photos assume 1:2).
    fn cell_pixels(&mut self) -> Option<(f64, f64)> {
        None
    }
}

/// One finished frame, for measurements: when its input arrived (if it answers one) and
/// when it was on screen.
#[derive(Debug, Clone, Copy)]
pub struct FrameTiming {
    pub input_at: Option<Instant>,
    pub done_at: Instant,
}

const TICK: Duration = Duration::from_millis(250);
/// Worker messages handled before a frame is drawn (a flood cannot starve the screen).
const MESSAGES_PER_FRAME: usize = 256;

/// Everything the event loop works with.
pub struct Loop<'a, B: Backend> {
    pub terminal: &'a mut Terminal<B>,
    pub app: &'a mut App,
    pub colors: ColorMode,
    /// Draws photos through a graphics protocol; `None`: half-blocks.
    pub painter: Option<Painter>,
    pub input: &'a mut dyn Input,
    /// What the workers send back.
    pub messages: &'a Receiver<Msg>,
    pub workers: &'a Workers,
    /// Raised by a termination signal: the loop ends.
    pub interrupted: &'a AtomicBool,
    /// Called after every frame (benchmarks measure with it).
    pub on_frame: &'a mut dyn FnMut(&App, FrameTiming),
}

impl<B: Backend> Loop<'_, B>
where
    B::Error: Send + Sync + 'static,
{
    /// Runs until the app quits.
    pub fn run(mut self) -> Result<()> {
        self.draw()?;
        (self.on_frame)(
            self.app,
            FrameTiming {
                input_at: None,
                done_at: Instant::now(),
            },
        );
        let mut last_tick = Instant::now();
        loop {
            let mut dirty = false;
            let mut input_at = None;
            // Wait briefly for input; worker messages are picked up after.
            if let Some((ev, at)) = self.input.poll(Duration::from_millis(20))? {
                input_at = Some(at);
                dirty |= self.handle_term_event(ev);
                // Keys typed ahead are handled before drawing.
                while let Some((ev, _)) = self.input.poll(Duration::ZERO)? {
                    dirty |= self.handle_term_event(ev);
                }
            }
            for msg in self.messages.try_iter().take(MESSAGES_PER_FRAME) {
                self.app.update(Action::Worker(msg));
                dirty = true;
            }
            // Photos encoded for a graphics protocol since the last frame are printed by the
            // next.
            if let Some(p) = &mut self.painter {
                dirty |= p.poll_ready();
            }
            if last_tick.elapsed() >= TICK {
                last_tick = Instant::now();
                self.app.update(Action::Tick);
                dirty = true;
            }
            if self.interrupted.load(Ordering::SeqCst) {
                self.app.quit = true;
            }
            for c in self.app.commands.drain(..) {
                self.workers.send(c);
            }
            if self.app.quit {
                return Ok(());
            }
            if dirty {
                self.draw()?;
                (self.on_frame)(
                    self.app,
                    FrameTiming {
                        input_at,
                        done_at: Instant::now(),
                    },
                );
            }
        }
    }

    /// Returns whether the screen must be redrawn.
    fn handle_term_event(&mut self, ev: TermEvent) -> bool {
        let app = &mut *self.app;
        match ev {
            TermEvent::Key(key) => {
                if let Some(action) = app.key_action(key) {
                    app.update(action);
                }
                true
            }
            TermEvent::Mouse(m) if m.kind == MouseEventKind::Down(MouseButton::Left) => {
                app.update(Action::Click {
                    column: m.column,
                    row: m.row,
                });
                true
            }
            TermEvent::Resize(_, _) => {
                if let Some(p) = &mut self.painter {
                    p.invalidate();
                }
                app.update(Action::Resize);
                true
            }
            _ => false,
        }
    }

    fn draw(&mut self) -> Result<()> {
        // The screen size as the frame will have it (queried from a real terminal; fixed for
        // benchmarks and tests).
        self.terminal.autoresize()?;
        let area = self.terminal.get_frame().area();
        // The same cell shape for every way of drawing, so a photo keeps its shape when the
        // help popup swaps protocol images for half-blocks.
        let cell = self.input.cell_pixels();
        self.app.update(Action::Layout(ListRows {
            cell,
            ..view::list_rows(area)
        }));
        // Popups are drawn in cells: while one is open, photos are too.
        let photos = match &mut self.painter {
            Some(p) if !self.app.help => {
                p.set_cell(cell.unwrap_or(super::blocks::ASSUMED_CELL));
                if p.driver.placeholders() {
                    Photos::KittyPlaceholders
                } else {
                    Photos::External
                }
            }
            _ => Photos::HalfBlocks,
        };
        let external = photos != Photos::HalfBlocks;
        let display = Display {
            colors: self.colors,
            cell,
            photos,
        };
        let app = &*self.app;
        let Some(p) = &mut self.painter else {
            self.terminal.draw(|f| view::view(app, display, f))?;
            return Ok(());
        };
        let images = match (external, view::areas(area)) {
            (true, Some(a)) => view::panel_images(app, &a),
            _ => Vec::new(),
        };
        if let Err(e) = draw_with_graphics(self.terminal, app, display, p, &images) {
            // A terminal that stops answering the protocol (or answers it wrongly) must not
            // end the session: say so, and draw photos as half-blocks from now on.
            let protocol = p.driver.protocol;
            log::write(&format!("{protocol:?} graphics failed: {e:#}"));
            self.app.say(format!(
                "{protocol:?} graphics failed ({e:#}): photos in half-blocks from now on"
            ));
            self.app.pictures.images = super::graphics::Images::failed(protocol, &format!("{e:#}"));
            self.painter = None;
            self.terminal.clear()?;
            return self.draw();
        }
        Ok(())
    }
}

fn draw_with_graphics<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &App,
    display: Display,
    p: &mut Painter,
    images: &[(ratatui::layout::Rect, Arc<image::RgbImage>)],
) -> Result<()>
where
    B::Error: Send + Sync + 'static,
{
    p.before(terminal, images)?;
    terminal.draw(|f| view::view(app, display, f))?;
    p.after(images)
}
