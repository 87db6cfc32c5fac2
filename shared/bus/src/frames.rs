//! Sending many AMQP frames without a thread hand-off per frame.
//!
//! lapin's `basic_publish` and `basic_ack` queue their frames on the first poll,
//! wake lapin's I/O thread, and then wait until that thread has written them.
//! Awaiting them one after another therefore costs a wake-up of the I/O thread and
//! of the calling task per message. [`join_in_order`] polls all of them first, so
//! the I/O thread writes the whole group at once and the task wakes a few times,
//! not once per message.

use std::{future::Future, pin::Pin, task::Poll};

/// Runs `futures` to completion and returns their outputs in the order given.
///
/// The first poll of each future happens in the order given, before any of them is
/// polled a second time: lapin queues a frame on that first poll, so messages
/// published this way leave in this order (which keeps the outbox's order per
/// subject), exactly as if each had been awaited in turn.
pub async fn join_in_order<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut running: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = running.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        let mut all_done = true;
        for (future, output) in running.iter_mut().zip(outputs.iter_mut()) {
            if output.is_some() {
                continue;
            }
            match future.as_mut().poll(context) {
                Poll::Ready(value) => *output = Some(value),
                Poll::Pending => all_done = false,
            }
        }
        if all_done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[tokio::test]
    async fn first_polls_happen_in_the_order_given_and_outputs_keep_it() {
        let first_polls = Arc::new(Mutex::new(Vec::new()));
        let (release, released) = tokio::sync::watch::channel(false);
        let futures: Vec<_> = (0..40)
            .map(|index| {
                let first_polls = first_polls.clone();
                let mut released = released.clone();
                async move {
                    first_polls.lock().unwrap().push(index);
                    // Later futures finish first, so the outputs' order is not the
                    // order of completion.
                    if index % 2 == 0 {
                        released.wait_for(|released| *released).await.unwrap();
                    }
                    index * 10
                }
            })
            .collect();
        let joined = tokio::spawn(join_in_order(futures));
        // Release the even ones only once every future was polled, so that the odd
        // ones are done before them.
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while first_polls.lock().unwrap().len() < 40 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("every future is polled once");
        release.send(true).unwrap();
        let outputs = joined.await.unwrap();
        assert_eq!(*first_polls.lock().unwrap(), (0..40).collect::<Vec<_>>());
        assert_eq!(outputs, (0..40).map(|index| index * 10).collect::<Vec<_>>());
    }
}
