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
    assert!(matches!(error, RouterError::Invalid { .. }), "{error}");
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
