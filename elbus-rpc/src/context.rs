//! The per-call context handed to handlers that ask for it (`&RpcContext` or `#[rpc(context)]`).

/// What a handler may know about the call it serves. Never sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcContext {
    sender: String,
    method: String,
    call_id: u32,
}

impl RpcContext {
    /// A context for a call from `sender` to `method` with the byte layer's `call_id` (0 = no reply).
    pub fn new(sender: impl Into<String>, method: impl Into<String>, call_id: u32) -> Self {
        Self {
            sender: sender.into(),
            method: method.into(),
            call_id,
        }
    }

    /// The caller's full client name, including any `%%suffix` of a secondary client.
    pub fn sender(&self) -> &str {
        &self.sender
    }

    /// The caller's primary name: the sender up to the first `%%`.
    pub fn primary_sender(&self) -> &str {
        match self.sender.find("%%") {
            Some(pos) => &self.sender[..pos],
            None => &self.sender,
        }
    }

    /// The wire method name the caller used (an alias stays as sent).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The byte layer's call id; 0 for notifications.
    pub fn call_id(&self) -> u32 {
        self.call_id
    }

    /// `true` when the caller wants no reply (call id 0).
    pub fn is_notification(&self) -> bool {
        self.call_id == 0
    }
}
