//! The self-service key portal (issue 16): portals, portal sessions and the end-user routes.
//!
//! Client side (core, stable signature the bindings build on):
//!
//! ```text
//! impl Client {
//!     pub async fn create_portal_session(
//!         &self,
//!         request: &wire::CreatePortalSessionRequest, // {portal, external_id, scopes, return_url?, preview?}
//!     ) -> Result<wire::CreatePortalSessionResponseData>; // {id, url}
//!     pub async fn get_portal(&self, portal: &str) -> Result<wire::Portal>;
//!     pub async fn update_portal(&self, request: &wire::UpdatePortalRequest) -> Result<wire::Portal>;
//!     pub async fn revoke_portal_session(&self, session_id: &str) -> Result<()>;
//! }
//! ```
