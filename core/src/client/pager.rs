//! Lists: one [`Page`] at a time, or every page with a [`Pager`].

use serde::de::DeserializeOwned;

use crate::backend::{CallOptions, Reply};
use crate::wire::Op;
use crate::{BoxFuture, Result};

use super::{decode, Client};

/// One page of a list operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub cursor: Option<String>,
    pub has_more: bool,
}

/// Walks every page of a list operation: `while let Some(page) = pager.next_page().await? {}`.
pub struct Pager<T> {
    cursor: PageCursor,
    decode: fn(Op, Reply) -> Result<Vec<T>>,
}

/// The part of a [`Pager`] that does not depend on its item type, so that fetching a page is
/// compiled once, here, not in every crate that walks a list.
struct PageCursor {
    client: Client,
    op: Op,
    body: serde_json::Value,
    cursor: Option<String>,
    done: bool,
}

impl PageCursor {
    /// The next page's reply, or `None` after the last one.
    fn fetch(&mut self) -> BoxFuture<'_, Result<Option<Reply>>> {
        Box::pin(async move {
            if self.done {
                return Ok(None);
            }
            let mut body = self.body.clone();
            if let (Some(cursor), Some(obj)) = (&self.cursor, body.as_object_mut()) {
                obj.insert("cursor".into(), serde_json::Value::String(cursor.clone()));
            }
            let reply = self
                .client
                .call_raw(self.op, &body, &CallOptions::default())
                .await?;
            let pagination = reply.pagination.clone().unwrap_or_default();
            self.cursor = pagination.cursor.filter(|c| !c.is_empty());
            self.done = !pagination.has_more || self.cursor.is_none();
            Ok(Some(reply))
        })
    }
}

impl<T> Pager<T> {
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>> {
        match self.cursor.fetch().await? {
            Some(reply) => (self.decode)(self.cursor.op, reply).map(Some),
            None => Ok(None),
        }
    }

    /// Every remaining item of every page.
    pub async fn collect_all(mut self) -> Result<Vec<T>> {
        let mut all = Vec::new();
        while let Some(items) = self.next_page().await? {
            all.extend(items);
        }
        Ok(all)
    }
}

impl Client {
    pub(super) async fn page<T: DeserializeOwned>(
        &self,
        op: Op,
        body: serde_json::Value,
    ) -> Result<Page<T>> {
        let reply = self.call_raw(op, &body, &CallOptions::default()).await?;
        let pagination = reply.pagination.clone().unwrap_or_default();
        let items: Vec<T> = decode(op, reply)?;
        Ok(Page {
            items,
            cursor: pagination.cursor,
            has_more: pagination.has_more,
        })
    }

    pub(super) fn pager<T: DeserializeOwned>(&self, op: Op, body: serde_json::Value) -> Pager<T> {
        Pager {
            cursor: PageCursor {
                client: self.clone(),
                op,
                body,
                cursor: None,
                done: false,
            },
            decode: decode::<Vec<T>>,
        }
    }

    /// Every item of a list operation that takes no filter (all pages).
    pub(super) async fn list_all<T: DeserializeOwned>(&self, op: Op) -> Result<Vec<T>> {
        self.pager(op, serde_json::json!({})).collect_all().await
    }
}
