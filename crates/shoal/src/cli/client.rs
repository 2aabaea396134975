//! The CLI's HTTP client for the daemon's JSON API.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as Hyper;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

/// A client of one daemon.
pub struct Client {
    base: String,
    /// Sent as `X-Shoal-Region`: the region the daemon answers for.
    region: Option<String>,
    http: Hyper<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

impl Client {
    pub fn new(base: &str) -> Client {
        Client {
            base: base.trim_end_matches('/').to_string(),
            region: None,
            http: Hyper::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// This client, acting in `region` (the default region's answers without one).
    pub fn in_region(mut self, region: &str) -> Client {
        self.region = Some(region.to_string());
        self
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Bytes)> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(region) = &self.region {
            req = req.header(crate::api::json::REGION_HEADER, region.as_str());
        }
        let req =
            req.body(Full::new(body.map(|b| Bytes::from(b.to_string())).unwrap_or_default()))?;
        let resp = self
            .http
            .request(req)
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach Shoal at {}: {e}", self.base))?;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    async fn json(&self, method: &str, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let (status, bytes) = self.send(method, path, body).await?;
        let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status >= 400 {
            anyhow::bail!(
                "{}: {}",
                v["code"].as_str().unwrap_or("Error"),
                v["message"].as_str().unwrap_or("request failed")
            );
        }
        Ok(v)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.json("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.json("POST", path, Some(body)).await
    }

    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let (status, bytes) = self.send("GET", path, None).await?;
        if status >= 400 {
            anyhow::bail!("HTTP {status}");
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}
