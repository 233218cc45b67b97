//! The migration checkpoint file: creation, refusal to mix runs, resume state, torn writes.

use std::io::Write;
use std::path::PathBuf;

use keyshift_core::migrate::checkpoint::{read_entries, Checkpoint, Entry, Header, State, VERSION};
use keyshift_core::ErrorCode;

fn temp_path(tag: &str) -> PathBuf {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    std::env::temp_dir().join(format!("ks-ckpt-{tag}-{}", hex::encode(b)))
}

fn header() -> Header {
    Header {
        checkpoint: VERSION,
        migration_id: "mig-1".into(),
        api_id: "api_123".into(),
        batch_size: 100,
        variant: "sha256_base64".into(),
        source: "keys.jsonl".into(),
    }
}

fn entry(batch: u64, state: State) -> Entry {
    Entry {
        batch,
        first_line: batch * 100 + 1,
        last_line: batch * 100 + 100,
        count: 100,
        state,
        idempotency_key: format!("ksm-test-{batch}"),
        migrated: (state == State::Done).then_some(100),
        already_present: (state == State::Done).then_some(0),
        failed: (state == State::Done).then_some(0),
    }
}

#[test]
fn resume_state_separates_finished_and_unfinished_batches() {
    let path = temp_path("state");
    {
        let (mut c, state) = Checkpoint::open(&path, &header(), false).unwrap();
        assert!(state.is_empty());
        for b in 0..4 {
            c.append(&entry(b, State::Sent), true).unwrap();
        }
        c.append(&entry(1, State::Done), true).unwrap();
        c.append(&entry(0, State::Done), true).unwrap();
        c.append(&entry(3, State::Done), false).unwrap();
        c.sync().unwrap();
    }
    // Without resume, an existing checkpoint is refused.
    let err = Checkpoint::open(&path, &header(), false).err().unwrap();
    assert_eq!(err.code, ErrorCode::InvalidInput);
    assert!(err.message.contains("--resume"));

    let (_, state) = Checkpoint::open(&path, &header(), true).unwrap();
    let mut done: Vec<u64> = state.done.keys().copied().collect();
    done.sort_unstable();
    assert_eq!(done, vec![0, 1, 3]);
    assert_eq!(state.sent.keys().copied().collect::<Vec<_>>(), vec![2]);
    assert_eq!(state.sent[&2].idempotency_key, "ksm-test-2");
    assert_eq!(state.done[&1].migrated, Some(100));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_checkpoint_of_another_run_is_refused() {
    let path = temp_path("other");
    drop(Checkpoint::open(&path, &header(), false).unwrap());
    for (h, needle) in [
        (
            Header {
                migration_id: "mig-2".into(),
                ..header()
            },
            "migration id",
        ),
        (
            Header {
                api_id: "api_999".into(),
                ..header()
            },
            "api id",
        ),
        (
            Header {
                batch_size: 50,
                ..header()
            },
            "batch size",
        ),
        (
            Header {
                variant: "bcrypt".into(),
                ..header()
            },
            "hash variant",
        ),
    ] {
        let err = Checkpoint::open(&path, &h, true).err().unwrap();
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert!(err.message.contains(needle), "{err}");
    }
    // The source path may change (the file was moved): still the same run.
    let moved = Header {
        source: "/elsewhere/keys.jsonl".into(),
        ..header()
    };
    assert!(Checkpoint::open(&path, &moved, true).is_ok());
    std::fs::remove_file(&path).unwrap();

    let junk = temp_path("junk");
    std::fs::write(&junk, "hello\n").unwrap();
    let err = Checkpoint::open(&junk, &header(), true).err().unwrap();
    assert!(err.message.contains("not a keyshift checkpoint"));
    std::fs::remove_file(&junk).unwrap();
}

#[test]
fn torn_writes_are_ignored_and_later_appends_stay_readable() {
    let path = temp_path("torn");
    {
        let (mut c, _) = Checkpoint::open(&path, &header(), false).unwrap();
        c.append(&entry(0, State::Sent), true).unwrap();
        c.append(&entry(0, State::Done), true).unwrap();
        c.append(&entry(1, State::Sent), true).unwrap();
    }
    // A crash in the middle of writing batch 1's `done`.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(br#"{"batch":1,"firstLine":101,"lastLi"#)
        .unwrap();
    drop(f);

    {
        let (mut c, state) = Checkpoint::open(&path, &header(), true).unwrap();
        assert_eq!(state.done.len(), 1);
        assert!(state.sent.contains_key(&1), "batch 1 is re-sent");
        c.append(&entry(1, State::Done), true).unwrap();
        c.append(&entry(2, State::Sent), true).unwrap();
    }
    let (_, state) = Checkpoint::open(&path, &header(), true).unwrap();
    assert_eq!(state.done.len(), 2);
    assert_eq!(state.sent.keys().copied().collect::<Vec<_>>(), vec![2]);
    let (h, entries) = read_entries(&path).unwrap();
    assert_eq!(h, header());
    assert_eq!(entries.len(), 5);
    std::fs::remove_file(&path).unwrap();
}
