//! Parley's domain: the chat model, its merge rules and validation, the ports that storage
//! adapters implement, and the services that the HTTP layer drives.
//!
//! Nothing here knows about HTTP, SQL or configuration files.

pub mod app;
pub mod archive;
pub mod clock;
pub mod content;
pub mod conversation;
pub mod error;
pub mod events;
pub mod files;
pub mod ids;
pub mod import;
pub mod legacy;
pub mod limits;
pub mod listing;
pub mod message;
pub mod ports;
pub mod probe;
pub mod reactions;
pub mod service;
pub mod text;
pub mod user;

pub use app::{AppKeys, SecretKey};
pub use clock::{Clock, SystemClock};
pub use content::{Block, Element, FileBlock, Finite, Node};
pub use conversation::{
    Access, Conversation, ConversationPatch, CustomPatch, Field, Join, Notify, Participant,
    ParticipantPatch,
};
pub use error::{Invalid, InvalidCode, RepositoryError, ServiceError};
pub use ids::{AppId, ConversationId, IdError, UserId};
pub use import::{ImportItem, ImportRecord};
pub use limits::Limits;
pub use listing::{
    ConversationQuery, Cursor, Direction, OrderBy, Page, Position, Resume, Snapshot, Standing, Walk,
};
pub use message::{
    ContentField, GivenContent, Message, MessageId, MessageKind, MessagePatch, MessageRecord,
    NewMessage, Origin, ReactionSummary,
};
pub use ports::{
    AppRepository, ConversationRepository, CursorStore, MessageRepository, UserRepository,
    UserWrite, Versioned,
};
pub use service::{ConversationService, MessageService, UserConversation, UserService};
pub use user::{PushTokensPatch, User, UserPatch};
