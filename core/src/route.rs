//! Routing at the edge: where a verified, normalized event goes next.
//!
//! The policy is data ([`RoutingPolicy`], JSON). Defaults: complaints, hard bounces,
//! unsubscribes and resubscribes go to `suppress` (forward now: a suppression list must hear of
//! them at once, and of the resubscribes that lift them); opens and clicks go to `analytics`
//! (batchable); everything else goes to `state`. An open or click a provider flagged as a
//! machine's (`automated`: a privacy proxy's prefetch, a link scanner) goes to `analytics`
//! whatever the type table says, with its flag kept on the event: a policy that sends opens
//! to `state` (to drive engagement) still keeps machines out of it. An event whose key the
//! caller has already seen goes to `drop`. Provider control messages (an SNS subscription confirmation, a SparkPost
//! ping) never become events; they come out of `normalize` as a control result instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};
use crate::{Event, EventType};

/// Where an event goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Forward now to the suppression system.
    Suppress,
    /// Delivery lifecycle: apply to message state.
    State,
    /// Engagement: batch for analytics.
    Analytics,
    /// Discard (a duplicate already seen).
    Drop,
}

impl Route {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Suppress => "suppress",
            Route::State => "state",
            Route::Analytics => "analytics",
            Route::Drop => "drop",
        }
    }
}

/// The routing policy: a route per event type, a default, and what to do with duplicates.
///
/// ```json
/// {"types": {"complaint": "suppress", "open": "analytics"}, "default": "state", "duplicates": "drop",
///  "automated": "analytics"}
/// ```
/// A policy document replaces the default table: types it does not list take `default`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingPolicy {
    /// Route per canonical type.
    pub types: BTreeMap<EventType, Route>,
    /// Route of types not in `types`.
    pub default: Route,
    /// Route of an event whose key was seen before.
    pub duplicates: Route,
    /// Route of a first-seen open or click flagged `automated` (default `analytics`).
    pub automated: Route,
}

impl Default for RoutingPolicy {
    fn default() -> RoutingPolicy {
        let types = [
            (EventType::Complaint, Route::Suppress),
            (EventType::HardBounce, Route::Suppress),
            (EventType::Unsubscribe, Route::Suppress),
            (EventType::Resubscribe, Route::Suppress),
            (EventType::Open, Route::Analytics),
            (EventType::Click, Route::Analytics),
        ];
        RoutingPolicy {
            types: types.into_iter().collect(),
            default: Route::State,
            duplicates: Route::Drop,
            automated: Route::Analytics,
        }
    }
}

impl RoutingPolicy {
    /// Parse a policy from JSON; absent fields keep their defaults, except that a `types` map
    /// replaces the default table.
    ///
    /// # Errors
    /// `invalid_policy` naming the offending field.
    ///
    /// # Example
    /// ```
    /// use mailstate_core::{EventType, route::{Route, RoutingPolicy}};
    /// let p = RoutingPolicy::from_json(br#"{"types":{"open":"drop"}}"#).unwrap();
    /// assert_eq!(p.route_type(EventType::Open), Route::Drop);
    /// assert_eq!(p.route_type(EventType::Complaint), Route::State);
    /// ```
    pub fn from_json(bytes: &[u8]) -> Result<RoutingPolicy, Error> {
        crate::json::from_slice_with_path(bytes).map_err(|e| {
            Error::new(ErrorKind::InvalidPolicy, format!("routing policy: {}", e.message()))
        })
    }

    /// The route of a first-seen event of `kind`.
    pub fn route_type(&self, kind: EventType) -> Route {
        self.types.get(&kind).copied().unwrap_or(self.default)
    }

    /// The route of `event`; `seen_before` says whether its key was already seen.
    pub fn route<S>(&self, event: &Event<S>, seen_before: bool) -> Route {
        if seen_before {
            self.duplicates
        } else if event.automated.is_some()
            && matches!(event.kind, EventType::Open | EventType::Click)
        {
            self.automated
        } else {
            self.route_type(event.kind)
        }
    }
}
