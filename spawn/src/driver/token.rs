//! The epoll tokens of the driver: which slot's pipe or pidfd became ready,
//! or the signal forwarder's pipe. One enum, encoded into epoll's `u64`.

use spawn_core::Stream;

/// What an epoll readiness is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// A pipe of a slot: stdin writable, stdout or stderr readable.
    Pipe { slot: usize, stream: Stream },
    /// A slot's pidfd: the child exited.
    Exit { slot: usize },
    /// The signal forwarder has signals to pass on.
    Forwarder,
    /// The doorbell of the engine's `n`th cancel token.
    Cancel(usize),
    /// The doorbell of the command feed a group takes commands from.
    Feed,
    /// The doorbell of the engine's spawner: starts were made.
    Spawned,
    /// The doorbell of the engine's sink workers: sinks have room again.
    SinkRing,
    /// The file of the engine's `sink`th sink became writable.
    SinkWritable { sink: usize },
}

/// Kinds per slot: stdin, stdout, stderr, exit, and the sink whose index
/// is the slot's number (sinks are indexed apart from slots).
const KINDS: u64 = 5;
const FORWARDER: u64 = u64::MAX;
/// Cancel tokens count down from below the forwarder's token; slots count
/// up from 0 and never reach them.
const CANCEL_LAST: u64 = u64::MAX - 1;
const CANCELS: u64 = 1 << 32;
/// Just below the cancel tokens.
const FEED: u64 = CANCEL_LAST - CANCELS;
const SPAWNED: u64 = FEED - 1;
const SINK_RING: u64 = SPAWNED - 1;

impl Token {
    pub(crate) fn encode(self) -> u64 {
        match self {
            Token::Pipe { slot, stream } => {
                let kind = match stream {
                    Stream::Stdin => 0,
                    Stream::Stdout => 1,
                    _ => 2,
                };
                slot as u64 * KINDS + kind
            }
            Token::Exit { slot } => slot as u64 * KINDS + 3,
            Token::Forwarder => FORWARDER,
            Token::Cancel(n) => CANCEL_LAST - n as u64,
            Token::Feed => FEED,
            Token::Spawned => SPAWNED,
            Token::SinkRing => SINK_RING,
            Token::SinkWritable { sink } => sink as u64 * KINDS + 4,
        }
    }

    pub(crate) fn decode(raw: u64) -> Token {
        if raw == FORWARDER {
            return Token::Forwarder;
        }
        if raw == FEED {
            return Token::Feed;
        }
        if raw == SPAWNED {
            return Token::Spawned;
        }
        if raw == SINK_RING {
            return Token::SinkRing;
        }
        if raw <= CANCEL_LAST && raw > CANCEL_LAST - CANCELS {
            return Token::Cancel(usize::try_from(CANCEL_LAST - raw).unwrap_or(usize::MAX));
        }
        let slot = usize::try_from(raw / KINDS).unwrap_or(usize::MAX);
        match raw % KINDS {
            0 => Token::Pipe {
                slot,
                stream: Stream::Stdin,
            },
            1 => Token::Pipe {
                slot,
                stream: Stream::Stdout,
            },
            2 => Token::Pipe {
                slot,
                stream: Stream::Stderr,
            },
            3 => Token::Exit { slot },
            _ => Token::SinkWritable { sink: slot },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_token_round_trips() {
        for slot in [0, 1, 7, 100_000] {
            for t in [
                Token::Pipe {
                    slot,
                    stream: Stream::Stdin,
                },
                Token::Pipe {
                    slot,
                    stream: Stream::Stdout,
                },
                Token::Pipe {
                    slot,
                    stream: Stream::Stderr,
                },
                Token::Exit { slot },
                Token::Forwarder,
                Token::Cancel(slot),
                Token::Feed,
                Token::Spawned,
                Token::SinkRing,
                Token::SinkWritable { sink: slot },
            ] {
                assert_eq!(Token::decode(t.encode()), t);
            }
        }
    }
}
