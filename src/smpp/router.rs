//! Routing: which carrier a destination goes to.
//!
//! Owns the rule: the carrier whose E.164 prefix is the longest match for the destination,
//! lower `priority` first among equal prefixes; a carrier whose binds have all been down longer
//! than its `failover_after` is passed over for the next candidate. Must not touch: sockets,
//! storage. Called by the outbox (and the demo and tests).

use super::{Carrier, MessageOutcome, OutMessage, SendError};

/// The longest prefix of one carrier that matches a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Index of the carrier in the router.
    pub carrier: usize,
    /// Length of the matching prefix (0 for a carrier without prefixes).
    pub prefix_len: usize,
}

/// Every configured carrier, in configuration order.
#[derive(Clone, Default)]
pub struct Router {
    carriers: Vec<Carrier>,
}

impl Router {
    /// A router over `carriers`.
    pub fn new(carriers: Vec<Carrier>) -> Self {
        Self { carriers }
    }

    /// The carriers.
    pub fn carriers(&self) -> &[Carrier] {
        &self.carriers
    }

    /// The carrier named `name`.
    pub fn carrier(&self, name: &str) -> Option<&Carrier> {
        self.carriers.iter().find(|c| &**c.name() == name)
    }

    /// Carriers that may take `destination` (E.164 with `+`), best first.
    pub fn candidates(&self, destination: &str) -> Vec<Route> {
        let mut routes: Vec<Route> = self
            .carriers
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let prefixes = &c.config().prefixes;
                if prefixes.is_empty() {
                    return Some(Route {
                        carrier: i,
                        prefix_len: 0,
                    });
                }
                prefixes
                    .iter()
                    .filter(|p| destination.starts_with(p.as_str()))
                    .map(|p| p.len())
                    .max()
                    .map(|prefix_len| Route {
                        carrier: i,
                        prefix_len,
                    })
            })
            .collect();
        routes.sort_by_key(|r| {
            (
                std::cmp::Reverse(r.prefix_len),
                self.carriers[r.carrier].config().priority,
            )
        });
        routes
    }

    /// Sends a message for `destination` through the best available carrier; when every bind
    /// of that carrier has been down longer than `failover_after`, through the next one.
    pub async fn send(
        &self,
        destination: &str,
        message: OutMessage,
    ) -> Result<MessageOutcome, SendError> {
        let routes = self.candidates(destination);
        let Some(first) = routes.first() else {
            return Err(SendError::NoRoute {
                destination: mask(destination),
            });
        };
        let mut last_error = None;
        let available: Vec<&Route> = routes
            .iter()
            .filter(|r| self.carriers[r.carrier].is_available())
            .collect();
        // With none available, queue on the best route: it may come back.
        let tries: Vec<&Route> = if available.is_empty() {
            vec![first]
        } else {
            available
        };
        let count = tries.len();
        for (n, route) in tries.into_iter().enumerate() {
            let may_fail_over = n + 1 < count;
            match self.carriers[route.carrier]
                .send(message.clone(), may_fail_over)
                .await
            {
                Err(e @ SendError::Unsent { .. }) => last_error = Some(e),
                other => return other,
            }
        }
        Err(last_error.unwrap_or(SendError::Unsent {
            reason: "no carrier available".to_owned(),
        }))
    }
}

/// A phone number for logs and errors: the middle digits masked.
fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() <= 6 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 6))
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn numbers_are_masked() {
        assert_eq!(mask("+358401234567"), "+358*******67");
        assert_eq!(mask("12345"), "*****");
    }
}
