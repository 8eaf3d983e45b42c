//! Plain nginx router: the rendered upstream file, foreign-edit detection, and the config test
//! that restores the previous file.

use super::*;

fn config(directory: &std::path::Path) -> NginxConfig {
    NginxConfig {
        upstream_file: directory.join("upstream.conf"),
        upstream: "checkout".into(),
        stable: "127.0.0.1:8081".into(),
        canary: "127.0.0.1:8082".into(),
        server_options: Some("max_fails=0".into()),
        test: None,
        reload: vec!["true".into()],
    }
}

fn weight(percent: u32) -> Weight {
    Weight::new(percent).unwrap()
}

#[test]
fn weights_are_reduced_and_zero_is_down() {
    let cases = [
        (0, "weight=1 max_fails=0;", "weight=1 max_fails=0 down;"),
        (5, "weight=19 max_fails=0;", "weight=1 max_fails=0;"),
        (10, "weight=9 max_fails=0;", "weight=1 max_fails=0;"),
        (20, "weight=4 max_fails=0;", "weight=1 max_fails=0;"),
        (33, "weight=67 max_fails=0;", "weight=33 max_fails=0;"),
        (50, "weight=1 max_fails=0;", "weight=1 max_fails=0;"),
        (100, "weight=1 max_fails=0 down;", "weight=1 max_fails=0;"),
    ];
    let config = config(std::path::Path::new("/x"));
    for (percent, stable, canary) in cases {
        let text = config.render(weight(percent));
        let expected = format!(
            "# Written by serin rollout: canary {percent} %. Edits here are reported as foreign, not kept.\n\
             upstream checkout {{\n    server 127.0.0.1:8081 {stable}\n    server 127.0.0.1:8082 {canary}\n}}\n"
        );
        assert_eq!(text, expected, "{percent} %");
        assert_eq!(config.parse(&text), Some(weight(percent)), "{percent} %");
    }
    let edited = config.render(weight(5)).replace("weight=19", "weight=18");
    assert_eq!(config.parse(&edited), None);
}

#[tokio::test]
async fn writes_check_what_they_overwrite() {
    let directory = tempfile::tempdir().unwrap();
    let config = config(directory.path());
    let router = Nginx::new(config.clone());
    let change = |from: Option<u32>, to: u32, force: bool| WeightChange {
        from: from.map(weight),
        to: weight(to),
        force,
    };
    let read = || std::fs::read_to_string(&config.upstream_file).unwrap();

    let write = router.set_weight(change(None, 5, false)).await.unwrap();
    assert!(write.changed);
    assert_eq!(config.parse(&read()), Some(weight(5)));
    let again = router.set_weight(change(None, 5, false)).await.unwrap();
    assert!(!again.changed, "an idempotent rewrite changes nothing");

    // Someone sets 30 % by hand (a well-formed file): reported, not overwritten.
    std::fs::write(&config.upstream_file, config.render(weight(30))).unwrap();
    let error = router
        .set_weight(change(Some(5), 20, false))
        .await
        .unwrap_err();
    assert!(matches!(error, RouterError::ForeignEdit { .. }), "{error}");
    // A hand-edited file is reported too.
    std::fs::write(&config.upstream_file, "upstream checkout { server a; }\n").unwrap();
    let error = router
        .set_weight(change(Some(5), 20, false))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RouterError::Invalid { message, .. } if message.contains("edited by hand since the rollout wrote it")),
        "{error}"
    );
    // Abort overwrites anything.
    let write = router.set_weight(change(Some(5), 0, true)).await.unwrap();
    assert_eq!(write.notes.len(), 1, "{:?}", write.notes);
    assert_eq!(config.parse(&read()), Some(weight(0)));
    // A deleted file after the rollout wrote one is reported.
    std::fs::remove_file(&config.upstream_file).unwrap();
    let error = router
        .set_weight(change(Some(0), 5, false))
        .await
        .unwrap_err();
    assert!(matches!(error, RouterError::NotFound(_)), "{error}");
}

#[tokio::test]
async fn a_failing_config_test_restores_the_previous_file() {
    let directory = tempfile::tempdir().unwrap();
    let mut config = config(directory.path());
    Nginx::new(config.clone())
        .set_weight(WeightChange {
            from: None,
            to: weight(5),
            force: false,
        })
        .await
        .unwrap();
    config.test = Some(vec!["false".into()]);
    let error = Nginx::new(config.clone())
        .set_weight(WeightChange {
            from: Some(weight(5)),
            to: weight(20),
            force: false,
        })
        .await
        .unwrap_err();
    assert!(matches!(error, RouterError::Command { .. }), "{error}");
    let text = std::fs::read_to_string(&config.upstream_file).unwrap();
    assert_eq!(config.parse(&text), Some(weight(5)));
    config.test = None;
    config.reload = vec!["false".into()];
    let error = Nginx::new(config)
        .set_weight(WeightChange {
            from: Some(weight(5)),
            to: weight(20),
            force: false,
        })
        .await
        .unwrap_err();
    assert!(error.is_transient(), "a failed reload is retried: {error}");
}

/// The first run (the rollout has never written the file): a hand-written stable-only file is
/// adopted, anything the rewrite would change or lose is refused and left as it was.
#[tokio::test]
async fn the_first_write_adopts_a_stable_only_file_and_refuses_others() {
    let directory = tempfile::tempdir().unwrap();
    let config = config(directory.path());
    let router = Nginx::new(config.clone());
    let block = |servers: &str| format!("upstream checkout {{\n{servers}}}\n");
    let cases: [(&str, String, Result<(), &str>); 14] = [
        (
            "the stable server alone",
            block("    server 127.0.0.1:8081;\n"),
            Ok(()),
        ),
        (
            "comments, parameters and the canary down",
            format!(
                "# stock setup\n{}",
                block(
                    "  server 127.0.0.1:8081 max_fails=3;  # stable\n  server 127.0.0.1:8082 down;\n"
                )
            ),
            Ok(()),
        ),
        (
            "on one line",
            "upstream checkout { server 127.0.0.1:8081; }".into(),
            Ok(()),
        ),
        (
            "the canary gets traffic",
            block("  server 127.0.0.1:8081;\n  server 127.0.0.1:8082;\n"),
            Err("the canary server 127.0.0.1:8082 gets traffic"),
        ),
        (
            "another upstream",
            "upstream shop { server 127.0.0.1:8081; }\n".into(),
            Err("it defines upstream shop, the plan's is checkout"),
        ),
        (
            "another server",
            block("  server 127.0.0.1:8081;\n  server 10.0.0.9:80;\n"),
            Err("server 10.0.0.9:80 is neither the plan's stable"),
        ),
        (
            "another directive",
            block("  keepalive 16;\n  server 127.0.0.1:8081;\n"),
            Err("it has a `keepalive` directive"),
        ),
        (
            "the stable server down",
            block("  server 127.0.0.1:8081 down;\n"),
            Err("the stable server 127.0.0.1:8081 is down"),
        ),
        (
            "the canary as a backup",
            block("  server 127.0.0.1:8081;\n  server 127.0.0.1:8082 backup down;\n"),
            Err("server 127.0.0.1:8082 is a backup"),
        ),
        (
            "no stable server",
            block("  server 127.0.0.1:8082 down;\n"),
            Err("the stable server 127.0.0.1:8081 is missing"),
        ),
        (
            "not closed",
            "upstream checkout {\n  server 127.0.0.1:8081;\n".into(),
            Err("the upstream block is not closed"),
        ),
        (
            "more after the block",
            format!(
                "{}server {{ listen 80; }}\n",
                block("  server 127.0.0.1:8081;\n")
            ),
            Err("there is more after the upstream block"),
        ),
        (
            "empty",
            String::new(),
            Err("it is not one `upstream checkout"),
        ),
        (
            "a variable",
            block("  server $backend;\n"),
            Err("quotes and variables are not supported"),
        ),
    ];
    for (name, text, expected) in cases {
        std::fs::write(&config.upstream_file, &text).unwrap();
        let result = router
            .set_weight(WeightChange {
                from: None,
                to: weight(5),
                force: false,
            })
            .await;
        let now = std::fs::read_to_string(&config.upstream_file).unwrap();
        match (expected, result) {
            (Ok(()), Ok(write)) => {
                assert_eq!(config.parse(&now), Some(weight(5)), "{name}");
                assert!(
                    write.notes.iter().any(|note| note.contains("adopted")),
                    "{name}: {:?}",
                    write.notes
                );
            }
            (Err(why), Err(RouterError::Invalid { message, .. })) => {
                assert!(
                    message.contains(&format!(
                        "not written by the rollout, and not a stable-only upstream it can adopt: {why}"
                    )),
                    "{name}: {message}"
                );
                assert_eq!(now, text, "{name}: a refused file is left alone");
            }
            (expected, result) => panic!("{name}: expected {expected:?}, got {result:?}"),
        }
    }
    // Once the rollout has written the file, the same stable-only text is a foreign edit.
    std::fs::write(&config.upstream_file, block("    server 127.0.0.1:8081;\n")).unwrap();
    let error = router
        .set_weight(WeightChange {
            from: Some(weight(5)),
            to: weight(20),
            force: false,
        })
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("edited by hand since the rollout wrote it"),
        "{error}"
    );
}

/// `serin rollout init`: the 0 % file is written when there is none (so nginx can start),
/// and an existing file is left alone if the rollout wrote it or would adopt it.
#[tokio::test]
async fn prepare_writes_the_stable_only_file_before_nginx_starts() {
    let directory = tempfile::tempdir().unwrap();
    let config = config(directory.path());
    let router = Nginx::new(config.clone());
    let read = || std::fs::read_to_string(&config.upstream_file).unwrap();

    let first = router.prepare().await.unwrap();
    assert!(first.changed);
    assert_eq!(read(), config.render(Weight::ZERO));
    let again = router.prepare().await.unwrap();
    assert!(!again.changed);
    assert!(
        again.notes[0].contains("already written by the rollout, canary 0 %"),
        "{again:?}"
    );

    let hand = "upstream checkout { server 127.0.0.1:8081; }\n";
    std::fs::write(&config.upstream_file, hand).unwrap();
    let adoptable = router.prepare().await.unwrap();
    assert!(!adoptable.changed);
    assert!(
        adoptable.notes[0].contains("the first write adopts it"),
        "{adoptable:?}"
    );
    assert_eq!(read(), hand);

    std::fs::write(&config.upstream_file, "upstream other { server a; }\n").unwrap();
    let error = router.prepare().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("not a stable-only upstream it can adopt"),
        "{error}"
    );

    // From a prepared file, the first write goes through.
    std::fs::remove_file(&config.upstream_file).unwrap();
    router.prepare().await.unwrap();
    router
        .set_weight(WeightChange {
            from: None,
            to: weight(5),
            force: false,
        })
        .await
        .unwrap();
    assert_eq!(config.parse(&read()), Some(weight(5)));
}
