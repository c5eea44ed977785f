//! Secondary-index queries: what to ask, what comes back, where to resume.

use backend_api::{Error, Result, prefix_successor};
use bytes::{BufMut, Bytes, BytesMut};

use super::entry::field_prefix;
use super::term::Term;

/// Which entries a [`Query`] selects.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Selector {
    /// `field == term`.
    Eq(Term),
    /// `min <= field <= max` (both inclusive, as in Riak).
    Range(Term, Term),
    /// Riak's `$key` index: object keys in `[start, end]` (each optional, inclusive).
    Keys(Option<Bytes>, Option<Bytes>),
}

/// A secondary-index query: equality, term range or `$key` range, with Riak's
/// `return_terms`, `max_results` and continuation.
///
/// Results come in term order, then object-key order (`$key` queries: key order).
///
/// ```
/// use seeds::index::{Query, Term};
/// let q = Query::range("age_int", -5i64, 30i64).return_terms().max_results(100);
/// let all = Query::all_keys().max_results(10);
/// # let _ = (q, all);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    field: String,
    selector: Selector,
    return_terms: bool,
    max_results: Option<usize>,
    continuation: Option<Continuation>,
}

impl Query {
    /// Objects whose `field` holds `term`.
    pub fn eq(field: impl Into<String>, term: impl Into<Term>) -> Self {
        Self::new(field.into(), Selector::Eq(term.into()))
    }

    /// Objects whose `field` holds a term in `[min, max]` (inclusive).
    pub fn range(field: impl Into<String>, min: impl Into<Term>, max: impl Into<Term>) -> Self {
        Self::new(field.into(), Selector::Range(min.into(), max.into()))
    }

    /// Riak's `$key` index: objects whose key is in `[start, end]` (inclusive).
    pub fn keys(start: impl Into<Bytes>, end: impl Into<Bytes>) -> Self {
        Self::new(
            String::new(),
            Selector::Keys(Some(start.into()), Some(end.into())),
        )
    }

    /// Riak's `$bucket` index: every object, in key order.
    pub fn all_keys() -> Self {
        Self::new(String::new(), Selector::Keys(None, None))
    }

    fn new(field: String, selector: Selector) -> Self {
        Query {
            field,
            selector,
            return_terms: false,
            max_results: None,
            continuation: None,
        }
    }

    /// Return each result's term too (for `$key` queries: the key).
    pub fn return_terms(mut self) -> Self {
        self.return_terms = true;
        self
    }

    /// At most `n` results per page; a full page carries a [`Continuation`].
    pub fn max_results(mut self, n: usize) -> Self {
        self.max_results = Some(n);
        self
    }

    /// Resume exactly after the last result of the page that returned `continuation`.
    pub fn continuation(mut self, continuation: Continuation) -> Self {
        self.continuation = Some(continuation);
        self
    }

    /// The page size, if any.
    pub fn page_size(&self) -> Option<usize> {
        self.max_results
    }

    /// Whether results carry their terms.
    pub fn returns_terms(&self) -> bool {
        self.return_terms
    }

    /// True for `$key` / `$bucket` queries (served from the objects partition).
    pub(crate) fn is_key_query(&self) -> bool {
        matches!(self.selector, Selector::Keys(..))
    }

    /// The field's encoded prefix, stripped from every index key (empty for `$key`).
    pub(crate) fn field_prefix(&self) -> Bytes {
        if self.is_key_query() {
            Bytes::new()
        } else {
            field_prefix(&self.field)
        }
    }

    /// The storage keys to scan, `[start, end)` (`None`: open; `Ok(None)`: nothing to
    /// scan), including where the continuation resumes.
    pub(crate) fn scan_bounds(
        &self,
        max_key_len: usize,
    ) -> Result<Option<(Option<Bytes>, Option<Bytes>)>> {
        let (start, end) = match &self.selector {
            Selector::Eq(term) => {
                let p = self.term_prefix(term);
                (Some(p.clone()), prefix_successor(&p))
            }
            Selector::Range(min, max) => (
                Some(self.term_prefix(min)),
                prefix_successor(&self.term_prefix(max)),
            ),
            Selector::Keys(start, end) => (
                start.clone(),
                end.as_deref().and_then(|e| key_after(e, max_key_len)),
            ),
        };
        let resume = match &self.continuation {
            None => None,
            Some(c) => match key_after(c.resume_key(self.is_key_query())?, max_key_len) {
                Some(after) => Some(after),
                None => return Ok(None),
            },
        };
        let start = match (start, resume) {
            (Some(s), Some(r)) => Some(s.max(r)),
            (s, r) => s.or(r),
        };
        Ok(Some((start, end)))
    }

    fn term_prefix(&self, term: &Term) -> Bytes {
        let mut out = BytesMut::from(&field_prefix(&self.field)[..]);
        term.encode_into(&mut out);
        out.freeze()
    }
}

/// The smallest valid key greater than `key`: `key | 0x00`, or, when that would be too
/// long, the successor of `key` as a prefix (no longer key exists under it). `None`:
/// nothing is greater.
fn key_after(key: &[u8], max_key_len: usize) -> Option<Bytes> {
    if key.len() < max_key_len {
        let mut out = BytesMut::with_capacity(key.len() + 1);
        out.put_slice(key);
        out.put_u8(0);
        Some(out.freeze())
    } else {
        prefix_successor(key)
    }
}

/// One result: the object's key, and its term when the query asked for terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The matching term (with [`Query::return_terms`]); for `$key` queries the key.
    pub term: Option<Term>,
    /// The object's key.
    pub key: Bytes,
}

/// One page of results.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// The results, in term-then-key order.
    pub hits: Vec<Hit>,
    /// Present when the page is full and more results follow: pass it to
    /// [`Query::continuation`] to get the next page.
    pub continuation: Option<Continuation>,
}

/// Where a query stopped: an opaque token naming the last result's storage key.
///
/// Its bytes ([`Continuation::as_bytes`]) can be sent to a client and brought back with
/// [`Continuation::from_bytes`]; a token of another query is harmless: results still
/// lie in the query's own range.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Continuation(Bytes);

const TOKEN_VERSION: u8 = 1;
const TOKEN_INDEX: u8 = 1;
const TOKEN_KEYS: u8 = 2;

impl Continuation {
    pub(crate) fn after(storage_key: &[u8], key_query: bool) -> Self {
        let mut out = BytesMut::with_capacity(storage_key.len() + 2);
        out.put_u8(TOKEN_VERSION);
        out.put_u8(if key_query { TOKEN_KEYS } else { TOKEN_INDEX });
        out.put_slice(storage_key);
        Continuation(out.freeze())
    }

    /// The token's bytes, to hand to a client.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// A token a client brought back; [`Error::InvalidKey`] if it is not one.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Result<Self> {
        let c = Continuation(bytes.into());
        c.parts().map(|_| c.clone())
    }

    fn parts(&self) -> Result<(bool, &[u8])> {
        match &self.0[..] {
            [TOKEN_VERSION, kind @ (TOKEN_INDEX | TOKEN_KEYS), key @ ..] if !key.is_empty() => {
                Ok((*kind == TOKEN_KEYS, key))
            }
            _ => Err(bad_token("it is not a continuation of this version")),
        }
    }

    fn resume_key(&self, key_query: bool) -> Result<&[u8]> {
        let (kind, key) = self.parts()?;
        if kind != key_query {
            return Err(bad_token(
                "it belongs to a query of the other kind ($key vs term)",
            ));
        }
        Ok(key)
    }
}

fn bad_token(why: &str) -> Error {
    Error::InvalidKey {
        reason: format!("bad continuation token: {why}"),
    }
}
