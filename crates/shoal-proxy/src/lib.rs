//! # shoal-proxy
//!
//! The load balancer's data plane: listener sockets, routing rules, target selection,
//! connection pools, health checking and access logs. It knows model types and never
//! the store or the API: the control plane publishes an immutable routing table that
//! the request path loads without locks.
