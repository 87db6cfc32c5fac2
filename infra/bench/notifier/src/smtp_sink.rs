//! A minimal SMTP server in this process that accepts every message and notes
//! when it arrived and for whom: the notifier's mail server in the benchmark.
//!
//! It speaks what `lettre` (the notifier's client) uses over plain SMTP: a `220`
//! greeting; `EHLO`/`HELO`; `MAIL`, `RCPT` and `DATA` (`354`, then the message up
//! to `<CRLF>.<CRLF>`, then `250`); `RSET`, `NOOP` (lettre sends one each time it
//! takes a connection from its pool) and `QUIT`. Commands are answered in order
//! as they come, so a pipelining client works too. Nothing is stored but the
//! message's first recipient and size: the recipient's local part is the key of
//! the registration the e-mail is for ([`crate::events`]).
//!
//! A message counts as accepted when its terminator has been read, just before
//! the `250` that tells the client so: that instant is its arrival. The protocol
//! part ([`Session`]) is pure, so it is tested without a network.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// The greeting sent when a client connects.
const GREETING: &[u8] = b"220 six-bench-notifier ESMTP sink\r\n";

/// The answer to `EHLO`: what the server supports. No `STARTTLS`: plain SMTP on
/// the loopback.
const EHLO_REPLY: &[u8] = b"250-six-bench-notifier\r\n250-PIPELINING\r\n250-8BITMIME\r\n\
                            250-SMTPUTF8\r\n250 SIZE 10485760\r\n";

/// The end of a message's data.
const TERMINATOR: &[u8] = b"\r\n.\r\n";

/// Longest command line taken; a longer one ends the connection.
const MAX_LINE_BYTES: usize = 4096;

/// Bytes read from a connection at once.
const READ_BUFFER_BYTES: usize = 64 * 1024;

/// A connection silent for this long is closed (lettre closes its idle pooled
/// connections after 60 s).
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);

/// Deadline of writing one batch of replies.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// One accepted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The first `RCPT TO` address.
    pub recipient: String,
    /// Bytes of the data (headers and body, as sent: dot-stuffed, CRLF line ends).
    pub bytes: usize,
}

/// One accepted message and when it arrived.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// The message.
    pub message: Message,
    /// When its terminator was read.
    pub at: Instant,
}

/// What one read of a client's bytes led to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Replies to write, in order.
    pub replies: Vec<u8>,
    /// Messages whose data ended in this read.
    pub messages: Vec<Message>,
    /// Whether to close the connection after writing the replies.
    pub close: bool,
}

/// Where a session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Reading command lines.
    Commands,
    /// Reading a message's data, up to its terminator.
    Data,
}

/// The server's side of one SMTP connection, fed with the bytes as they arrive
/// (in reads of any size: a command line or the terminator may be split across
/// them).
#[derive(Debug)]
pub struct Session {
    stage: Stage,
    /// The command line read so far.
    line: Vec<u8>,
    /// `RCPT TO` addresses of the current transaction.
    recipients: Vec<String>,
    data_end: DataEnd,
    data_bytes: usize,
}

impl Default for Session {
    fn default() -> Self {
        Self {
            stage: Stage::Commands,
            line: Vec::new(),
            recipients: Vec::new(),
            data_end: DataEnd::new(),
            data_bytes: 0,
        }
    }
}

impl Session {
    /// Takes the next bytes from the client.
    pub fn receive(&mut self, mut input: &[u8]) -> Step {
        let mut step = Step::default();
        while !input.is_empty() && !step.close {
            match self.stage {
                Stage::Data => match self.data_end.find(input) {
                    Some(end) => {
                        self.data_bytes += end;
                        input = &input[end..];
                        self.end_of_data(&mut step);
                    }
                    None => {
                        self.data_bytes += input.len();
                        input = &[];
                    }
                },
                Stage::Commands => match input.iter().position(|byte| *byte == b'\n') {
                    Some(newline) => {
                        self.line.extend_from_slice(&input[..=newline]);
                        input = &input[newline + 1..];
                        let line = std::mem::take(&mut self.line);
                        self.command(&line, &mut step);
                    }
                    None => {
                        self.line.extend_from_slice(input);
                        input = &[];
                        if self.line.len() > MAX_LINE_BYTES {
                            step.replies
                                .extend_from_slice(b"500 5.5.6 line too long\r\n");
                            step.close = true;
                        }
                    }
                },
            }
        }
        step
    }

    fn command(&mut self, line: &[u8], step: &mut Step) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim_end_matches(['\r', '\n']);
        let verb = line
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => EHLO_REPLY,
            "HELO" => b"250 six-bench-notifier\r\n",
            "MAIL" => {
                self.recipients.clear();
                b"250 2.1.0 OK\r\n"
            }
            "RCPT" => match recipient_of(line) {
                Some(recipient) => {
                    self.recipients.push(recipient.to_owned());
                    b"250 2.1.5 OK\r\n"
                }
                None => b"501 5.1.3 no recipient address\r\n",
            },
            "DATA" if self.recipients.is_empty() => b"503 5.5.1 no recipient yet\r\n",
            "DATA" => {
                self.stage = Stage::Data;
                self.data_end = DataEnd::new();
                self.data_bytes = 0;
                b"354 end data with <CR><LF>.<CR><LF>\r\n"
            }
            "RSET" => {
                self.recipients.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                step.close = true;
                b"221 2.0.0 bye\r\n"
            }
            _ => b"502 5.5.2 command not implemented\r\n",
        };
        step.replies.extend_from_slice(reply);
    }

    fn end_of_data(&mut self, step: &mut Step) {
        let recipients = std::mem::take(&mut self.recipients);
        step.messages.push(Message {
            recipient: recipients.into_iter().next().unwrap_or_default(),
            // Without the final `.<CRLF>`; the CRLF before it ends the last line.
            bytes: self.data_bytes.saturating_sub(3),
        });
        step.replies.extend_from_slice(b"250 2.0.0 accepted\r\n");
        self.stage = Stage::Commands;
    }
}

/// The address of a `RCPT TO:<address> [parameters]` line.
fn recipient_of(line: &str) -> Option<&str> {
    let open = line.find('<')?;
    let close = open + line[open..].find('>')?;
    let address = &line[open + 1..close];
    (!address.is_empty()).then_some(address)
}

/// Finds the end of a message's data, `<CRLF>.<CRLF>`, across reads.
#[derive(Debug, Clone, Copy)]
struct DataEnd {
    /// Bytes of the terminator matched so far.
    matched: usize,
}

impl DataEnd {
    /// At the start of the data: the CRLF that ended the `DATA` line counts as the
    /// terminator's first two bytes, so an empty message ends at `.<CRLF>`.
    fn new() -> Self {
        Self { matched: 2 }
    }

    /// How many bytes of `input` the data takes, terminator included, if it ends
    /// in `input`. The only prefix of the terminator that is also a suffix of a
    /// longer part of it is `\r`, so a mismatch goes back to one byte matched
    /// (on `\r`) or none.
    fn find(&mut self, input: &[u8]) -> Option<usize> {
        for (index, byte) in input.iter().enumerate() {
            self.matched = if *byte == TERMINATOR[self.matched] {
                self.matched + 1
            } else if *byte == b'\r' {
                1
            } else {
                0
            };
            if self.matched == TERMINATOR.len() {
                return Some(index + 1);
            }
        }
        None
    }
}

/// What the server accepted, shared by its connections.
#[derive(Debug, Default)]
struct Record {
    /// Acknowledge every read at once (see [`SmtpSink::start`]).
    quickack: bool,
    accepted: AtomicUsize,
    arrivals: Mutex<Vec<Arrival>>,
}

/// The running server, on a port of its own on 127.0.0.1.
pub struct SmtpSink {
    address: SocketAddr,
    record: Arc<Record>,
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl SmtpSink {
    /// Starts listening; accepts connections until [`SmtpSink::stop`].
    ///
    /// With `quickack`, the kernel acknowledges what each connection receives at
    /// once (Linux's `TCP_QUICKACK`) instead of after its delayed-ACK timer, as
    /// mail servers do. A client that writes a message's data and its terminator
    /// in two writes without `TCP_NODELAY` (lettre does) otherwise holds the
    /// terminator back until that timer fires (Nagle's algorithm); `quickack`
    /// shows what a send costs without that wait.
    pub async fn start(quickack: bool) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("bind the SMTP sink")?;
        let address = listener.local_addr()?;
        let record = Arc::new(Record {
            quickack,
            ..Record::default()
        });
        let stop = CancellationToken::new();
        let tasks = TaskTracker::new();
        tasks.spawn(accept(
            listener,
            Arc::clone(&record),
            stop.clone(),
            tasks.clone(),
        ));
        Ok(Self {
            address,
            record,
            stop,
            tasks,
        })
    }

    /// `SMTP_URL` for the notifier.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.address)
    }

    /// Messages accepted so far.
    pub fn accepted(&self) -> usize {
        self.record.accepted.load(Ordering::Acquire)
    }

    /// Every message accepted so far, in the order they arrived.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.record
            .arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops accepting, closes every connection and waits for their tasks.
    pub async fn stop(self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

async fn accept(
    listener: TcpListener,
    record: Arc<Record>,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => return,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let record = Arc::clone(&record);
        let stop = stop.clone();
        tasks.spawn(async move {
            // A connection that fails only ends itself; the client sees it and
            // counts the message as not sent.
            let _ = serve(stream, &record, &stop).await;
        });
    }
}

/// Serves one connection until the client quits or closes, it stays idle past
/// [`IDLE_TIMEOUT`], or the sink stops.
async fn serve(
    mut stream: TcpStream,
    record: &Record,
    stop: &CancellationToken,
) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    write(&mut stream, GREETING).await?;
    let mut session = Session::default();
    let mut buffer = vec![0_u8; READ_BUFFER_BYTES];
    loop {
        let read = tokio::select! {
            read = tokio::time::timeout(IDLE_TIMEOUT, stream.read(&mut buffer)) => match read {
                Ok(read) => read?,
                Err(_) => return Ok(()),
            },
            () = stop.cancelled() => return Ok(()),
        };
        if read == 0 {
            return Ok(());
        }
        if record.quickack {
            acknowledge_at_once(&stream)?;
        }
        let step = session.receive(&buffer[..read]);
        if !step.messages.is_empty() {
            let at = Instant::now();
            let count = step.messages.len();
            record
                .arrivals
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend(
                    step.messages
                        .into_iter()
                        .map(|message| Arrival { message, at }),
                );
            record.accepted.fetch_add(count, Ordering::AcqRel);
        }
        if !step.replies.is_empty() {
            write(&mut stream, &step.replies).await?;
        }
        if step.close {
            return Ok(());
        }
    }
}

/// Asks the kernel to acknowledge what `stream` receives at once rather than
/// after its delayed-ACK timer. Linux's `TCP_QUICKACK` lapses on its own, so it
/// is set again after every read; elsewhere this does nothing.
fn acknowledge_at_once(stream: &TcpStream) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: `setsockopt` only reads `size_of::<c_int>()` bytes at the address
        // of `on`, which lives through the call, for a socket this process owns.
        let set = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_QUICKACK,
                std::ptr::from_ref(&on).cast(),
                libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
                    .unwrap_or(libc::socklen_t::MAX),
            )
        };
        if set != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = stream;
    Ok(())
}

async fn write(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(bytes))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "write deadline"))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What lettre sends for one message on a pooled connection, data included.
    const TRANSACTION: &[u8] = b"NOOP\r\nMAIL FROM:<no-reply@six-degrees.test>\r\n\
                                 RCPT TO:<e7@bench.six-degrees.test>\r\nDATA\r\n";
    const DATA: &[u8] = b"Subject: Welcome\r\n\r\nHello,\r\n..a stuffed dot\r\n.\r\n";

    fn replies(step: &Step) -> Vec<&str> {
        std::str::from_utf8(&step.replies)
            .expect("replies are ASCII")
            .split_terminator("\r\n")
            .collect()
    }

    #[test]
    fn a_message_is_accepted_with_its_first_recipient() {
        let mut session = Session::default();

        let commands = session.receive(TRANSACTION);
        let data = session.receive(DATA);

        assert_eq!(
            replies(&commands),
            [
                "250 2.0.0 OK",
                "250 2.1.0 OK",
                "250 2.1.5 OK",
                "354 end data with <CR><LF>.<CR><LF>"
            ]
        );
        assert_eq!(replies(&data), ["250 2.0.0 accepted"]);
        assert_eq!(
            data.messages,
            [Message {
                recipient: "e7@bench.six-degrees.test".to_owned(),
                bytes: DATA.len() - 3,
            }]
        );
    }

    #[test]
    fn the_terminator_is_found_wherever_the_reads_split_it() {
        for split in 0..DATA.len() {
            let mut session = Session::default();
            session.receive(TRANSACTION);

            let first = session.receive(&DATA[..split]);
            let second = session.receive(&DATA[split..]);

            let messages = first.messages.len() + second.messages.len();
            assert_eq!(messages, 1, "split at {split}");
            assert_eq!(second.messages.len(), 1, "split at {split}: ended early");
        }
    }

    #[test]
    fn the_data_is_read_one_byte_at_a_time() {
        let mut session = Session::default();
        session.receive(TRANSACTION);

        let messages: Vec<Message> = DATA
            .iter()
            .flat_map(|byte| session.receive(std::slice::from_ref(byte)).messages)
            .collect();

        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].bytes, DATA.len() - 3);
    }

    #[test]
    fn a_dot_inside_a_line_or_stuffed_does_not_end_the_data() {
        let mut session = Session::default();
        session.receive(TRANSACTION);

        let step = session.receive(b"a.\r\n.b\r\n..\r\n\r\n.\r");

        assert!(step.messages.is_empty());
        assert_eq!(session.receive(b"\n").messages.len(), 1);
    }

    #[test]
    fn an_empty_message_ends_at_once() {
        let mut session = Session::default();
        session.receive(TRANSACTION);

        let step = session.receive(b".\r\n");

        assert_eq!(step.messages.len(), 1);
        assert_eq!(step.messages[0].bytes, 0);
    }

    #[test]
    fn pipelined_commands_and_messages_in_one_read_are_answered_in_order() {
        let mut session = Session::default();
        let mut input = Vec::new();
        for recipient in ["a@x.test", "b@x.test"] {
            input.extend_from_slice(
                format!("MAIL FROM:<s@x.test>\r\nRCPT TO:<{recipient}> NOTIFY=NEVER\r\nDATA\r\n")
                    .as_bytes(),
            );
            input.extend_from_slice(b"Subject: hi\r\n\r\nbody\r\n.\r\n");
        }
        input.extend_from_slice(b"QUIT\r\n");

        let step = session.receive(&input);

        let recipients: Vec<&str> = step
            .messages
            .iter()
            .map(|message| message.recipient.as_str())
            .collect();
        assert_eq!(recipients, ["a@x.test", "b@x.test"]);
        assert_eq!(replies(&step).len(), 9);
        assert_eq!(replies(&step).last(), Some(&"221 2.0.0 bye"));
        assert!(step.close);
    }

    #[test]
    fn a_command_line_may_be_split_across_reads() {
        let mut session = Session::default();

        let first = session.receive(b"EH");
        let second = session.receive(b"LO notifier\r\n");

        assert!(first.replies.is_empty());
        assert!(replies(&second).contains(&"250-PIPELINING"));
    }

    #[test]
    fn data_without_a_recipient_and_unknown_commands_are_refused() {
        let mut session = Session::default();

        let step = session.receive(b"DATA\r\nVRFY someone\r\nRCPT TO:<>\r\n");

        assert_eq!(
            replies(&step),
            [
                "503 5.5.1 no recipient yet",
                "502 5.5.2 command not implemented",
                "501 5.1.3 no recipient address",
            ]
        );
    }

    #[test]
    fn a_reset_forgets_the_recipients() {
        let mut session = Session::default();

        let step =
            session.receive(b"MAIL FROM:<s@x.test>\r\nRCPT TO:<a@x.test>\r\nRSET\r\nDATA\r\n");

        assert_eq!(replies(&step).last(), Some(&"503 5.5.1 no recipient yet"));
    }

    #[test]
    fn an_endless_line_closes_the_connection() {
        let mut session = Session::default();

        let step = session.receive(&vec![b'x'; MAX_LINE_BYTES + 1]);

        assert!(step.close);
    }

    #[tokio::test]
    async fn the_sink_notes_each_message_it_accepts_over_tcp() {
        let sink = SmtpSink::start(true).await.expect("a free port");
        let address = sink.url().trim_start_matches("smtp://").to_owned();
        let mut client = TcpStream::connect(address).await.expect("the sink listens");
        let mut input = b"EHLO test\r\n".to_vec();
        input.extend_from_slice(TRANSACTION);
        input.extend_from_slice(DATA);
        input.extend_from_slice(b"QUIT\r\n");

        client.write_all(&input).await.expect("the sink reads");
        let mut answer = String::new();
        client
            .read_to_string(&mut answer)
            .await
            .expect("the sink answers and closes");

        assert!(answer.starts_with("220 "), "{answer}");
        assert!(
            answer.contains("250 2.0.0 accepted\r\n221 2.0.0 bye\r\n"),
            "{answer}"
        );
        assert_eq!(sink.accepted(), 1);
        assert_eq!(
            sink.arrivals()[0].message.recipient,
            "e7@bench.six-degrees.test"
        );
        sink.stop().await;
    }
}
