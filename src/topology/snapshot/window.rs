//! JSON snapshot files read through a window of a few MiB: the punctuation of each document
//! and of a List's `items` is stepped over here, and every value in between (a key, a field,
//! one item) is delimited by serde_json on the bytes in the window, then handed on as raw text.
//!
//! serde_json's own reader over `io::Read` would do all of this, but it reads byte by byte and
//! copies every raw value it delimits: it took half again the CPU time of reading the whole
//! text (measured on 100,000 MeshServices), while this costs less than that.

use std::io::{ErrorKind, Read};

use serde_json::value::RawValue;

use super::json::{self, Scanned};
use super::stream::{Fields, GaveUp};
use crate::manifest::Location;
use crate::topology::TopologyBuilder;

/// How much is read at a time; a value longer than this grows the window. (The tests read a
/// few bytes at a time, so every value of theirs crosses the edge of a window.)
const CHUNK: usize = if cfg!(test) { 7 } else { 4 << 20 };

/// Reads every document of one JSON file from `reader` into `builder`. On [`GaveUp`],
/// `builder` may hold part of the file and must be discarded.
pub(super) fn read(
    builder: &mut TopologyBuilder,
    file: &str,
    reader: impl Read,
) -> Result<(), GaveUp> {
    let mut w = Window {
        reader,
        buf: Vec::new(),
        at: 0,
        eof: false,
    };
    let mut document = 0;
    while let Some(first) = w.peek()? {
        document += 1;
        if first != b'{' {
            return Err(GaveUp);
        }
        w.at += 1;
        let mut fields = Fields::<Box<RawValue>>::default();
        if w.peek()? == Some(b'}') {
            w.at += 1;
        } else {
            loop {
                let key: String =
                    w.with_value(|raw| serde_json::from_str(raw.get()).map_err(|_| GaveUp))??;
                w.expect(b':')?;
                if fields.items_next(&key)? {
                    items(&mut w, builder, file, document)?;
                } else {
                    fields.field(key, w.with_value(RawValue::to_owned)?);
                }
                match w.peek()? {
                    Some(b',') => w.at += 1,
                    Some(b'}') => {
                        w.at += 1;
                        break;
                    }
                    _ => return Err(GaveUp),
                }
            }
        }
        fields.finish(builder, file, document)?;
    }
    Ok(())
}

/// The `items` of a (presumed) List, each indexed as soon as it is delimited.
fn items(
    w: &mut Window<impl Read>,
    builder: &mut TopologyBuilder,
    file: &str,
    document: usize,
) -> Result<(), GaveUp> {
    match w.peek()? {
        Some(b'[') => w.at += 1,
        Some(b'n') if w.with_value(|raw| raw.get() == "null")? => return Ok(()),
        _ => return Err(GaveUp),
    }
    if w.peek()? == Some(b']') {
        w.at += 1;
        return Ok(());
    }
    let mut item = 0;
    loop {
        item += 1;
        let location = Location::new(file, document, Some(item));
        let scanned = if w.peek()? == Some(b'{') {
            w.scan(
                |bytes, _| match json::scan_item(builder, &location, bytes) {
                    Scanned::Done(used, added) => Some((used, Some(added))),
                    Scanned::Incomplete => None,
                    Scanned::NotAHead => Some((0, None)),
                },
            )?
        } else {
            None
        };
        let added = match scanned {
            Some(added) => added,
            None => w.with_value(|raw| json::add_item(builder, location, raw))?,
        };
        added.map_err(|_| GaveUp)?;
        match w.peek()? {
            Some(b',') => w.at += 1,
            Some(b']') => {
                w.at += 1;
                return Ok(());
            }
            _ => return Err(GaveUp),
        }
    }
}

struct Window<R> {
    reader: R,
    /// The bytes read and not yet consumed, from `at` on.
    buf: Vec<u8>,
    at: usize,
    eof: bool,
}

impl<R: Read> Window<R> {
    /// Reads the next chunk, dropping what was consumed; `false` at the end of the file.
    fn more(&mut self) -> Result<bool, GaveUp> {
        if self.eof {
            return Ok(false);
        }
        self.buf.drain(..self.at.min(self.buf.len()));
        self.at = 0;
        let len = self.buf.len();
        self.buf.resize(len + CHUNK, 0);
        let n = loop {
            match self
                .reader
                .read(self.buf.get_mut(len..).unwrap_or_default())
            {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Err(GaveUp),
            }
        };
        self.buf.truncate(len + n);
        self.eof = n == 0;
        Ok(n > 0)
    }

    /// The next byte that is not JSON whitespace, left unconsumed; `None` at the end.
    fn peek(&mut self) -> Result<Option<u8>, GaveUp> {
        loop {
            while let Some(&b) = self.buf.get(self.at) {
                if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                    return Ok(Some(b));
                }
                self.at += 1;
            }
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), GaveUp> {
        if self.peek()? != Some(byte) {
            return Err(GaveUp);
        }
        self.at += 1;
        Ok(())
    }

    /// Hands the bytes from the next value on to `scan`, reading more for as long as it
    /// answers `None`; it is told whether the file ends where the bytes do, and answers how
    /// many bytes it used.
    fn scan<T>(
        &mut self,
        mut scan: impl FnMut(&[u8], bool) -> Option<(usize, T)>,
    ) -> Result<T, GaveUp> {
        self.peek()?;
        loop {
            let rest = self.buf.get(self.at..).unwrap_or_default();
            if let Some((used, out)) = scan(rest, self.eof) {
                self.at += used;
                return Ok(out);
            }
            if self.eof {
                return Err(GaveUp);
            }
            self.more()?;
        }
    }

    /// Delimits the next value and hands it to `f`.
    fn with_value<T>(&mut self, f: impl FnOnce(&RawValue) -> T) -> Result<T, GaveUp> {
        let mut f = Some(f);
        self.scan(|rest, eof| {
            let mut values = serde_json::Deserializer::from_slice(rest).into_iter::<&RawValue>();
            match values.next() {
                // A number or literal that ends the window may go on in the next chunk.
                Some(Ok(raw)) if values.byte_offset() < rest.len() || eof => {
                    let out = f.take().map(|f| f(raw));
                    Some((values.byte_offset(), out))
                }
                // Not JSON: used up nothing, and answered nothing.
                Some(Err(e)) if !e.is_eof() => Some((0, None)),
                _ => None,
            }
        })?
        .ok_or(GaveUp)
    }
}
