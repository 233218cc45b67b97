//! Lists: one [`Page`] at a time, or every page with a [`Pager`].

use serde::de::DeserializeOwned;

use crate::backend::CallOptions;
use crate::wire::Op;
use crate::Result;

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
    client: Client,
    op: Op,
    body: serde_json::Value,
    cursor: Option<String>,
    done: bool,
    _items: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Pager<T> {
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>> {
        if self.done {
            return Ok(None);
        }
        let mut body = self.body.clone();
        if let (Some(cursor), Some(obj)) = (&self.cursor, body.as_object_mut()) {
            obj.insert("cursor".into(), serde_json::Value::String(cursor.clone()));
        }
        let page: Page<T> = self.client.page(self.op, body).await?;
        self.cursor = page.cursor.filter(|c| !c.is_empty());
        self.done = !page.has_more || self.cursor.is_none();
        Ok(Some(page.items))
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

    pub(super) fn pager<T>(&self, op: Op, body: serde_json::Value) -> Pager<T> {
        Pager {
            client: self.clone(),
            op,
            body,
            cursor: None,
            done: false,
            _items: std::marker::PhantomData,
        }
    }

    /// Every item of a list operation that takes no filter (all pages).
    pub(super) async fn list_all<T: DeserializeOwned>(&self, op: Op) -> Result<Vec<T>> {
        self.pager(op, serde_json::json!({})).collect_all().await
    }
}
