//! The core's rules as tables: each row is a story (events in order) and the commands
//! each event must give, written short (`"log a missed: …"`, `"cue a at +3s"`). A fake
//! shell answers every cue as the row says (cued by default) and every take-back as done.
//!
//! Longer than 500 lines on purpose: it is one table, and a rule's story reads best next
//! to the others.

use super::*;
use crate::decode::PartDecoded;
use crate::planner::{Part, Plan};
use chrono::TimeZone;
use schedules::Sha256;
use schedules::{resolve, Item, Priority};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 5, 30, 0).unwrap()
}

fn at(s: f64) -> DateTime<Utc> {
    t0() + CDuration::milliseconds((s * 1000.0) as i64)
}

fn sha(c: char) -> Sha256 {
    Sha256::parse(&c.to_string().repeat(64)).unwrap()
}

/// An occurrence `id` due at `t0 + s`, lasting `dur_s`, waiting at most `wait_s`.
fn item(id: &str, s: f64, dur_s: u64, priority: Priority, wait_s: u64) -> Item {
    Item {
        key: id.into(),
        scheduled_at: at(s),
        duration_ms: dur_s * 1000,
        priority,
        max_wait_ms: wait_s * 1000,
    }
}

fn bulletin(id: &str, s: f64) -> Planned {
    file(item(id, s, 10, Priority::Normal, 600))
}

fn file(item: Item) -> Planned {
    Planned {
        origin: Origin::Rule(format!("rule-{}", item.key)),
        title: item.key.clone(),
        category: String::new(),
        source: Source::Media {
            sha256: sha('a'),
            gain_db: 0.0,
        },
        item,
    }
}

fn urgent(id: &str, s: f64) -> Planned {
    Planned {
        origin: Origin::Urgent(format!("notice-{id}")),
        ..file(item(id, s, 10, Priority::Emergency, 600))
    }
}

fn relay(id: &str, s: f64, dur_s: u64) -> Planned {
    Planned {
        source: Source::Relay(RelayChannel {
            id: "vov1".into(),
            name: "VOV1".into(),
            url: "http://127.0.0.1:1/vov1".into(),
            gain_db: 0.0,
        }),
        ..file(item(id, s, dur_s, Priority::Priority, 600))
    }
}

fn programme() -> Planned {
    let part = |c: char, ms: u64| Part {
        title: format!("part {c}"),
        media: sha(c),
        gain_db: 0.0,
        duration_ms: ms,
    };
    Planned {
        item: Item {
            key: "p@1".into(),
            scheduled_at: t0(),
            duration_ms: 3000,
            priority: Priority::Normal,
            max_wait_ms: 60_000,
        },
        origin: Origin::Rule("p".into()),
        title: "Programme".into(),
        category: "thời sự".into(),
        source: Source::Programme {
            lead: sha('a'),
            parts: vec![part('a', 1000), part('b', 1000), part('c', 1000)],
        },
    }
}

fn plan_of(planned: &[Planned]) -> Plan {
    let items: Vec<Item> = planned.iter().map(|p| p.item.clone()).collect();
    Plan {
        planned: planned
            .iter()
            .map(|p| (p.item.key.clone(), p.clone()))
            .collect(),
        slots: resolve(&items),
        errors: Vec::new(),
    }
}

/// The core and a fake shell around it.
struct World {
    core: Core,
    plan: Plan,
    media: HashSet<Sha256>,
    precise: bool,
    output_error: Option<String>,
    cancelled: HashSet<String>,
    mixer_busy: bool,
    /// How the fake shell answers a cue.
    answer: CueOutcome,
    mono: Instant,
    /// How far the wall clock was stepped, s (the monotonic clock was not).
    skew: f64,
}

impl World {
    fn new(planned: &[Planned]) -> Self {
        Self {
            core: Core::new(at(-3600.0), HashSet::new()),
            plan: plan_of(planned),
            media: [sha('a'), sha('b'), sha('c')].into(),
            precise: true,
            output_error: None,
            cancelled: HashSet::new(),
            mixer_busy: false,
            answer: CueOutcome::Cued,
            mono: Instant::now(),
            skew: 0.0,
        }
    }

    fn known(mut self, keys: &[&str]) -> Self {
        self.core = Core::new(at(-3600.0), keys.iter().map(|k| k.to_string()).collect());
        self
    }

    fn mono(&self, s: f64) -> Instant {
        self.mono
            + std::time::Duration::from_millis(((s - self.skew) * 1000.0 + 3_600_000.0) as u64)
    }

    /// The wall clock is stepped by `by` seconds, and reads `t0 + s` now.
    fn jump(&mut self, by: f64, s: f64) -> Vec<String> {
        self.skew += by;
        let mono = self.mono(s);
        self.send(Event::Clock { now: at(s), mono })
    }

    /// A tick at `t0 + s`, the clocks read together.
    fn tick(&mut self, s: f64) -> Vec<String> {
        let now = at(s);
        let mono = self.mono(s);
        let cmds = self.core.handle(Event::Clock { now, mono });
        let mut out = self.run(cmds);
        let media = self.media.clone();
        let has_media = move |m: &Sha256| media.contains(m);
        let plan = self.plan.clone();
        let cmds = self.core.handle(Event::Tick(Tick {
            now,
            plan: &plan,
            cancelled: &self.cancelled.clone(),
            output_error: self.output_error.clone().as_deref(),
            precise: self.precise,
            mixer_busy: self.mixer_busy,
            has_media: &has_media,
        }));
        out.extend(self.run(cmds));
        out
    }

    fn send(&mut self, ev: Event<'_>) -> Vec<String> {
        let cmds = self.core.handle(ev);
        self.run(cmds)
    }

    fn started(&mut self, key: &str, s: f64) -> Vec<String> {
        self.send(Event::Started {
            key: key.into(),
            at: at(s),
        })
    }

    fn ended(&mut self, key: &str, reason: EndReason, aired_s: f64, s: f64) -> Vec<String> {
        self.send(Event::Ended(Ended {
            key: key.into(),
            reason,
            frames: (aired_s * 48_000.0) as u64,
            rate: 48_000,
            underrun_frames: 0,
            rms_dbfs: None,
            peak_dbfs: None,
            parts: None,
            gaps: Vec::new(),
            last_airing: true,
            now: at(s),
        }))
    }

    /// Describe `cmds`, answering cues and take-backs as a shell would.
    fn run(&mut self, cmds: Vec<Command>) -> Vec<String> {
        let mut out = Vec::new();
        let mut queue: std::collections::VecDeque<Command> = cmds.into();
        while let Some(c) = queue.pop_front() {
            if let Some(d) = describe(&c) {
                out.push(d);
            }
            let follow = match c {
                Command::Cue { planned, .. }
                | Command::CueRelay { planned, .. }
                | Command::ResumeRelay { planned, .. } => self.core.handle(Event::CueDone {
                    key: planned.item.key,
                    outcome: self.answer.clone(),
                    now: t0(),
                }),
                Command::Uncue(key) => self.core.handle(Event::Uncued { key }),
                _ => Vec::new(),
            };
            queue.extend(follow);
        }
        out
    }
}

fn offset(t: DateTime<Utc>) -> String {
    let ms = (t - t0()).num_milliseconds();
    if ms % 1000 == 0 {
        format!("{:+}s", ms / 1000)
    } else {
        format!("{:+}ms", ms)
    }
}

/// A command, short; `None` for what is only said to the operator.
fn describe(c: &Command) -> Option<String> {
    Some(match c {
        Command::Log(e) => {
            let mut s = format!("log {} {}", e.id, e.status);
            if e.played_ms > 0 {
                s.push_str(&format!(" {}ms", e.played_ms));
            }
            if let Some(r) = &e.reason {
                s.push_str(&format!(": {r}"));
            }
            s
        }
        Command::Cue { planned, start } => match start {
            Some(t) => format!("cue {} at {}", planned.item.key, offset(*t)),
            None => format!("cue {} now", planned.item.key),
        },
        Command::CueRelay {
            planned,
            from,
            until,
            open,
            ..
        } => format!(
            "relay {} {}..{}{}",
            planned.item.key,
            offset(*from),
            offset(*until),
            open.as_ref()
                .map(|(f, r)| format!(", gap from {}: {r}", offset(*f)))
                .unwrap_or_default()
        ),
        Command::ResumeRelay { planned, open, .. } => format!(
            "resume {}{}",
            planned.item.key,
            open.as_ref()
                .map(|(f, r)| format!(", gap from {}: {r}", offset(*f)))
                .unwrap_or_default()
        ),
        Command::Uncue(k) => format!("uncue {k}"),
        Command::Stop { key, reason } => format!("stop {key}: {reason}"),
        Command::JournalStart(e) => format!("journal start {}", e.id),
        Command::NowPlaying(Some(np)) => format!("now playing {}", np.key),
        Command::NowPlaying(None) => "now playing nothing".into(),
        Command::Ack { id, ack } => format!("ack {id} {:?}", ack.state),
        Command::UrgentStarted => "urgent started".into(),
        Command::Reanchor => "reanchor".into(),
        Command::Precision(true) => "precise".into(),
        Command::Precision(false) => "relaxed".into(),
        Command::Say(..) => return None,
    })
}

/// One event of a story: it is done to the world and answers the commands, described.
type Act = Box<dyn Fn(&mut World) -> Vec<String>>;

/// What the step is, what it does, the commands it must give.
type Step = (&'static str, Act, Vec<&'static str>);

fn tick(s: f64) -> Act {
    Box::new(move |w: &mut World| w.tick(s))
}

fn started(key: &'static str, s: f64) -> Act {
    Box::new(move |w: &mut World| w.started(key, s))
}

fn ended(key: &'static str, reason: EndReason, aired_s: f64, s: f64) -> Act {
    Box::new(move |w: &mut World| w.ended(key, reason.clone(), aired_s, s))
}

fn stories() -> Vec<(&'static str, World, Vec<Step>)> {
    let missing_media = |mut w: World| {
        w.media.clear();
        w
    };
    vec![
        (
            "an empty plan relaxes the card",
            World::new(&[]),
            vec![("first tick", tick(0.0), vec!["relaxed"])],
        ),
        (
            "a bulletin is cued at its instant once it is within 5 s, and journalled when it airs",
            World::new(&[bulletin("a", 8.0)]),
            vec![
                ("8 s ahead: the card gets precise, nothing cued yet", tick(0.0), vec!["precise"]),
                ("5 s ahead: cued at its instant", tick(3.0), vec!["cue a at +8s"]),
                ("cued once", tick(3.2), vec![]),
                (
                    "its first sample",
                    started("a", 8.0),
                    vec!["journal start a", "now playing a"],
                ),
                (
                    "it ends",
                    ended("a", EndReason::Finished, 10.0, 18.0),
                    vec!["log a played 10000ms", "now playing nothing"],
                ),
                ("handled: never again", tick(19.0), vec![]),
            ],
        ),
        (
            "an idle station relaxes the card and makes it precise 10 s before a start, 3 s after the end",
            World::new(&[bulletin("a", 60.0)]),
            vec![
                ("a minute ahead", tick(0.0), vec!["relaxed"]),
                ("10 s ahead", tick(50.0), vec!["precise"]),
                ("cued", tick(55.0), vec!["cue a at +60s"]),
                ("airs", started("a", 60.0), vec!["journal start a", "now playing a"]),
                (
                    "ends",
                    ended("a", EndReason::Finished, 10.0, 70.0),
                    vec!["log a played 10000ms", "now playing nothing"],
                ),
                ("held precise right after", tick(70.1), vec![]),
                ("relaxed once the hold is over", tick(73.5), vec!["relaxed"]),
            ],
        ),
        (
            "nothing is cued while the card is still on its long period",
            {
                let mut w = World::new(&[urgent("u", 0.0)]);
                w.precise = false;
                w
            },
            vec![
                ("the notice arrives: precision wanted, no cue", tick(0.0), vec!["precise"]),
                ("still switching", tick(0.1), vec![]),
                (
                    "switched: cued at its instant",
                    Box::new(|w: &mut World| {
                        w.precise = true;
                        w.tick(0.15)
                    }),
                    vec!["cue u at +0s"],
                ),
            ],
        ),
        (
            "an urgent notice that arrives late starts at once, acknowledged playing then played",
            World::new(&[urgent("u", -30.0)]),
            vec![
                ("30 s late, within its bound", tick(0.0), vec!["precise", "cue u now"]),
                (
                    "it airs",
                    started("u", 0.05),
                    vec![
                        "journal start u",
                        "now playing u",
                        "urgent started",
                        "ack notice-u Playing",
                    ],
                ),
                (
                    "its last airing ends",
                    ended("u", EndReason::Finished, 10.0, 10.05),
                    vec!["log u played 10000ms", "now playing nothing", "ack notice-u Played"],
                ),
            ],
        ),
        (
            "an urgent notice with a repeat to come is not acknowledged played yet",
            World::new(&[urgent("u", 0.0)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "cue u at +0s"]),
                (
                    "airs",
                    started("u", 0.0),
                    vec!["journal start u", "now playing u", "urgent started", "ack notice-u Playing"],
                ),
                (
                    "ends, not its last airing",
                    Box::new(|w: &mut World| {
                        w.send(Event::Ended(Ended {
                            key: "u".into(),
                            reason: EndReason::Finished,
                            frames: 480_000,
                            rate: 48_000,
                            underrun_frames: 0,
                            rms_dbfs: None,
                            peak_dbfs: None,
                            parts: None,
                            gaps: Vec::new(),
                            last_airing: false,
                            now: at(10.0),
                        }))
                    }),
                    vec!["log u played 10000ms", "now playing nothing"],
                ),
            ],
        ),
        (
            "an occurrence whose bound passed while the controller was not running is missed",
            World::new(&[file(item("a", -700.0, 10, Priority::Normal, 600))]),
            vec![(
                "first tick",
                tick(0.0),
                vec![
                    "relaxed",
                    "log a missed: its time passed while the controller was not running",
                ],
            )],
        ),
        (
            "the same occurrence that waited for its media is failed, not missed",
            missing_media(World::new(&[file(item("a", 2.0, 10, Priority::Normal, 30))])),
            vec![
                ("ahead, media missing: waits", tick(0.0), vec!["precise"]),
                ("late, within its bound: still waits", tick(31.0), vec![]),
                (
                    "past its bound",
                    tick(33.0),
                    vec![&*format!(
                        "log a failed: media {} did not reach the local cache in time",
                        sha('a')
                    )
                    .leak()],
                ),
            ],
        ),
        (
            "a media failure the journal refused is decided again as failed, not missed",
            missing_media(World::new(&[file(item("a", 2.0, 10, Priority::Normal, 30))])),
            vec![
                ("waits", tick(0.0), vec!["precise"]),
                (
                    "past its bound",
                    tick(33.0),
                    vec![&*format!(
                        "log a failed: media {} did not reach the local cache in time",
                        sha('a')
                    )
                    .leak()],
                ),
                (
                    "the disk refused it",
                    Box::new(|w: &mut World| w.send(Event::NotLogged { key: "a".into() })),
                    vec![],
                ),
                (
                    "again",
                    tick(33.2),
                    vec![&*format!(
                        "log a failed: media {} did not reach the local cache in time",
                        sha('a')
                    )
                    .leak()],
                ),
            ],
        ),
        (
            "media still missing when an occurrence that may not wait is due fails at once",
            missing_media(World::new(&[file(item("a", 0.0, 10, Priority::Normal, 0))])),
            vec![(
                "due",
                tick(0.5),
                vec![
                    "precise",
                    &*format!("log a failed: media {} is not in the local cache", sha('a')).leak(),
                ],
            )],
        ),
        (
            "media that arrives while the occurrence waits is cued late, at once",
            missing_media(World::new(&[file(item("a", 2.0, 10, Priority::Normal, 600))])),
            vec![
                ("waits", tick(0.0), vec!["precise"]),
                (
                    "arrives",
                    Box::new(|w: &mut World| {
                        w.media.insert(sha('a'));
                        w.tick(20.0)
                    }),
                    vec!["cue a now"],
                ),
            ],
        ),
        (
            "with the sound device down an occurrence fails when due, not before",
            {
                let mut w = World::new(&[bulletin("a", 2.0)]);
                w.output_error = Some("sound device failed: gone".into());
                w
            },
            vec![
                ("ahead", tick(0.0), vec!["precise"]),
                ("due", tick(2.0), vec!["log a failed: sound device failed: gone"]),
            ],
        ),
        (
            "media that will not decode is failed with the decoder's reason",
            {
                let mut w = World::new(&[bulletin("a", 2.0)]);
                w.answer = CueOutcome::Failed("cannot decode media x: not audio".into());
                w
            },
            vec![(
                "cued",
                tick(0.0),
                vec![
                    "precise",
                    "cue a at +2s",
                    "log a failed: cannot decode media x: not audio",
                ],
            )],
        ),
        (
            "an output that has not produced a block yet is asked again on the next tick",
            {
                let mut w = World::new(&[bulletin("a", 2.0)]);
                w.answer = CueOutcome::NotYet;
                w
            },
            vec![
                ("not yet", tick(0.0), vec!["precise", "cue a at +2s"]),
                (
                    "again",
                    Box::new(|w: &mut World| {
                        w.answer = CueOutcome::Cued;
                        w.tick(0.2)
                    }),
                    vec!["cue a at +2s"],
                ),
                ("cued", tick(0.4), vec![]),
            ],
        ),
        (
            "an item due while another plays waits for its end (priority goes first, cuts nothing)",
            World::new(&[
                file(item("n", 0.0, 10, Priority::Normal, 600)),
                file(item("p", 5.0, 10, Priority::Priority, 600)),
            ]),
            vec![
                ("n cued", tick(0.0), vec!["precise", "cue n at +0s"]),
                ("p cued for n's end", tick(5.5), vec!["cue p at +10s"]),
            ],
        ),
        (
            "an item that would wait past its bound is skipped with the timeline's reason",
            World::new(&[
                file(item("long", 0.0, 3600, Priority::Normal, 600)),
                file(item("a", 60.0, 10, Priority::Normal, 600)),
            ])
            .known(&["long"]),
            vec![(
                "once due",
                tick(61.0),
                vec!["relaxed", "log a skipped: waited more than 10 min behind long"],
            )],
        ),
        (
            "an emergency cuts what airs: the cut occurrence is interrupted with the ms it played",
            World::new(&[bulletin("a", 0.0)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "cue a at +0s"]),
                ("airs", started("a", 0.0), vec!["journal start a", "now playing a"]),
                (
                    "cut",
                    ended(
                        "a",
                        EndReason::Preempted { by: "u".into() },
                        4.5,
                        4.5,
                    ),
                    vec![
                        "log a interrupted 4500ms: interrupted by emergency u",
                        "now playing nothing",
                    ],
                ),
            ],
        ),
        (
            "a remote stop interrupts what airs with its reason",
            World::new(&[bulletin("a", 0.0)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "cue a at +0s"]),
                ("airs", started("a", 0.0), vec!["journal start a", "now playing a"]),
                (
                    "stopped",
                    ended(
                        "a",
                        EndReason::Stopped {
                            reason: "stopped remotely by op".into(),
                        },
                        2.0,
                        2.0,
                    ),
                    vec![
                        "log a interrupted 2000ms: stopped remotely by op",
                        "now playing nothing",
                    ],
                ),
            ],
        ),
        (
            "a cancelled notice airing now is stopped",
            World::new(&[urgent("u", 0.0)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "cue u at +0s"]),
                (
                    "airs",
                    started("u", 0.0),
                    vec!["journal start u", "now playing u", "urgent started", "ack notice-u Playing"],
                ),
                (
                    "cancelled",
                    Box::new(|w: &mut World| {
                        w.cancelled.insert("notice-u".into());
                        w.tick(1.0)
                    }),
                    vec!["stop u: cancelled"],
                ),
            ],
        ),
        (
            "the sound device dying mid-airing stops it with the reason",
            World::new(&[bulletin("a", 0.0)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "cue a at +0s"]),
                ("airs", started("a", 0.0), vec!["journal start a", "now playing a"]),
                (
                    "device gone",
                    Box::new(|w: &mut World| {
                        w.output_error = Some("sound device failed: gone".into());
                        w.tick(1.0)
                    }),
                    vec!["stop a: sound device failed: gone"],
                ),
            ],
        ),
        (
            "a cued occurrence the plan no longer airs is taken back",
            World::new(&[bulletin("a", 3.0)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "cue a at +3s"]),
                (
                    "rule removed",
                    Box::new(|w: &mut World| {
                        w.plan = plan_of(&[]);
                        w.tick(1.0)
                    }),
                    vec!["uncue a"],
                ),
            ],
        ),
        (
            "a clock jump takes cued occurrences back and cues them again at the new time",
            World::new(&[bulletin("a", 4.0)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "cue a at +4s"]),
                (
                    "the wall clock steps 3 s forward",
                    Box::new(|w: &mut World| w.jump(3.0, 3.2)),
                    vec!["reanchor", "uncue a"],
                ),
                ("cued again", tick(3.3), vec!["cue a at +4s"]),
            ],
        ),
        (
            "what a jump forward passed over starts late within its bound, else is missed",
            World::new(&[
                bulletin("a", 4.0),
                file(item("b", 6.0, 10, Priority::Normal, 20)),
            ]),
            vec![
                ("a cued", tick(0.0), vec!["precise", "cue a at +4s"]),
                (
                    "the wall clock steps 60 s forward",
                    Box::new(|w: &mut World| w.jump(60.0, 60.2)),
                    vec!["reanchor", "uncue a"],
                ),
                (
                    "a within its bound starts at once, b past its bound is missed",
                    tick(60.3),
                    vec![
                        "cue a now",
                        "log b missed: its time passed while the controller was not running",
                    ],
                ),
            ],
        ),
        (
            "after a jump back nothing already handled plays again",
            World::new(&[bulletin("a", 0.0)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "cue a at +0s"]),
                ("airs", started("a", 0.0), vec!["journal start a", "now playing a"]),
                (
                    "ends",
                    ended("a", EndReason::Finished, 10.0, 10.0),
                    vec!["log a played 10000ms", "now playing nothing"],
                ),
                (
                    "the wall clock steps 12 s back",
                    Box::new(|w: &mut World| w.jump(-12.0, -2.0)),
                    vec!["reanchor"],
                ),
                ("a is not cued again", tick(-1.8), vec![]),
            ],
        ),
        (
            "after a crash what the journal holds is not aired again",
            World::new(&[bulletin("a", 0.0)]).known(&["a"]),
            vec![("first tick", tick(1.0), vec!["relaxed"])],
        ),
        (
            "a relay airs its window and logs gaps once it closes",
            World::new(&[relay("r", 2.0, 60)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "relay r +2s..+62s"]),
                ("airs", started("r", 2.0), vec!["journal start r", "now playing r"]),
                (
                    "window closes, one 5 s gap",
                    Box::new(|w: &mut World| {
                        w.send(Event::Ended(Ended {
                            key: "r".into(),
                            reason: EndReason::Finished,
                            frames: 60 * 48_000,
                            rate: 48_000,
                            underrun_frames: 5 * 48_000,
                            rms_dbfs: Some(-20.0),
                            peak_dbfs: Some(-3.0),
                            parts: None,
                            gaps: vec![RelayGap {
                                from: at(10.0),
                                to: at(15.0),
                                reason: "the stream ended".into(),
                            }],
                            last_airing: false,
                            now: at(62.0),
                        }))
                    }),
                    vec![
                        "log r played 55000ms: 1 gap(s), 5 s without the channel",
                        "now playing nothing",
                    ],
                ),
            ],
        ),
        (
            "a relay of which nothing aired is failed for its first gap's reason",
            World::new(&[relay("r", 0.0, 10)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "relay r +0s..+10s"]),
                ("airs", started("r", 0.0), vec!["journal start r", "now playing r"]),
                (
                    "window closes",
                    Box::new(|w: &mut World| {
                        w.send(Event::Ended(Ended {
                            key: "r".into(),
                            reason: EndReason::Finished,
                            frames: 10 * 48_000,
                            rate: 48_000,
                            underrun_frames: 10 * 48_000,
                            rms_dbfs: None,
                            peak_dbfs: None,
                            parts: None,
                            gaps: vec![RelayGap {
                                from: at(0.0),
                                to: at(10.0),
                                reason: "refused".into(),
                            }],
                            last_airing: false,
                            now: at(10.0),
                        }))
                    }),
                    vec!["log r failed: refused", "now playing nothing"],
                ),
            ],
        ),
        (
            "a relay an emergency cuts resumes after it, as the same entry with the cut as a gap",
            World::new(&[relay("r", 0.0, 60)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "relay r +0s..+60s"]),
                ("airs", started("r", 0.0), vec!["journal start r", "now playing r"]),
                (
                    "cut by an emergency",
                    ended("r", EndReason::Preempted { by: "u".into() }, 10.0, 10.0),
                    vec!["now playing nothing"],
                ),
                (
                    "the emergency airs: not resumed",
                    Box::new(|w: &mut World| {
                        w.mixer_busy = true;
                        w.tick(11.0)
                    }),
                    vec![],
                ),
                (
                    "it ended: resumed",
                    Box::new(|w: &mut World| {
                        w.mixer_busy = false;
                        w.tick(20.0)
                    }),
                    vec!["resume r, gap from +10s: interrupted by emergency u"],
                ),
                ("airs again: no new journal entry", started("r", 20.0), vec!["now playing r"]),
                (
                    "window closes",
                    ended("r", EndReason::Finished, 40.0, 60.0),
                    vec!["log r played 50000ms", "now playing nothing"],
                ),
            ],
        ),
        (
            "a relay whose window closed while cut is interrupted",
            World::new(&[relay("r", 0.0, 20)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "relay r +0s..+20s"]),
                ("airs", started("r", 0.0), vec!["journal start r", "now playing r"]),
                (
                    "cut",
                    ended("r", EndReason::Preempted { by: "u".into() }, 10.0, 10.0),
                    vec!["now playing nothing"],
                ),
                (
                    "the window closed meanwhile",
                    tick(30.0),
                    vec!["log r interrupted 10000ms: interrupted by emergency u"],
                ),
            ],
        ),
        (
            "a relay the controller stopped while it aired is joined again for the rest of its window",
            {
                let mut w = World::new(&[relay("r", -30.0, 600)]).known(&["r"]);
                let mut e = w.plan.planned["r"].log_entry(PlayStatus::Interrupted, None);
                e.started_at = Some(at(-30.0));
                e.ended_at = Some(at(-5.0));
                w.core.rejoin_after_restart(Vec::new(), &[e], at(0.0));
                w
            },
            vec![(
                "first tick",
                tick(0.0),
                vec![
                    "precise",
                    &*format!(
                        "relay r#rejoin-{} +0s..+570s, gap from -5s: the controller stopped (crash, kill or power cut) and restarted",
                        at(0.0).timestamp_millis()
                    )
                    .leak(),
                ],
            )],
        ),
        (
            "a relay stopped remotely before the restart stays stopped",
            {
                let mut w = World::new(&[relay("r", -30.0, 600)]).known(&["r"]);
                let mut e = w.plan.planned["r"].log_entry(
                    PlayStatus::Interrupted,
                    Some("stopped remotely by op".into()),
                );
                e.started_at = Some(at(-30.0));
                w.core.rejoin_after_restart(vec![e], &[], at(0.0));
                w
            },
            vec![("first tick", tick(0.0), vec!["relaxed"])],
        ),
        (
            "a programme logs itself and each of its parts",
            World::new(&[programme()]),
            vec![
                ("cued", tick(0.0), vec!["precise", "cue p@1 at +0s"]),
                ("airs", started("p@1", 0.0), vec!["journal start p@1", "now playing p@1"]),
                (
                    "cut in its second part",
                    Box::new(|w: &mut World| {
                        w.send(Event::Ended(Ended {
                            key: "p@1".into(),
                            reason: EndReason::Preempted { by: "u".into() },
                            frames: 72_000,
                            rate: 48_000,
                            underrun_frames: 0,
                            rms_dbfs: None,
                            peak_dbfs: None,
                            parts: Some(vec![
                                PartDecoded {
                                    frames: 48_000,
                                    error: None,
                                },
                                PartDecoded {
                                    frames: 48_000,
                                    error: None,
                                },
                            ]),
                            gaps: Vec::new(),
                            last_airing: false,
                            now: at(1.5),
                        }))
                    }),
                    vec![
                        "log p@1 interrupted 1500ms: interrupted by emergency u",
                        "log p@1#1 played 1000ms",
                        "log p@1#2 interrupted 500ms: interrupted by emergency u",
                        "log p@1#3 skipped: the programme stopped before this part: interrupted by emergency u",
                        "now playing nothing",
                    ],
                ),
            ],
        ),
        (
            "the controller stopping cuts what airs",
            World::new(&[bulletin("a", 0.0)]),
            vec![
                ("cued", tick(0.0), vec!["precise", "cue a at +0s"]),
                ("airs", started("a", 0.0), vec!["journal start a", "now playing a"]),
                (
                    "stop",
                    Box::new(|w: &mut World| w.send(Event::Shutdown)),
                    vec!["stop a: the controller was stopped"],
                ),
            ],
        ),
        (
            "a log entry that could not be written is decided again",
            World::new(&[file(item("a", -700.0, 10, Priority::Normal, 600))]),
            vec![
                (
                    "missed",
                    tick(0.0),
                    vec![
                        "relaxed",
                        "log a missed: its time passed while the controller was not running",
                    ],
                ),
                (
                    "the disk refused it",
                    Box::new(|w: &mut World| w.send(Event::NotLogged { key: "a".into() })),
                    vec![],
                ),
                (
                    "again",
                    tick(0.2),
                    vec!["log a missed: its time passed while the controller was not running"],
                ),
            ],
        ),
    ]
}

#[test]
fn every_timeline_rule_gives_its_commands() {
    let mut wrong = Vec::new();
    for (story, mut world, steps) in stories() {
        for (what, step, want) in steps {
            let got = step(&mut world);
            if got != want {
                wrong.push(format!("{story}: {what}:\n  got  {got:?}\n  want {want:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_card_is_precise_while_busy_shortly_after_and_ahead_of_a_start() {
    let now = t0();
    let s = CDuration::seconds;
    let rows = [
        (false, None, None, false),
        (true, None, None, true),
        (false, Some(now + s(1)), None, true),
        (false, Some(now), None, false),
        (false, None, Some(now + PRECISE_AHEAD), true),
        (false, None, Some(now + PRECISE_AHEAD + s(1)), false),
        (false, None, Some(now - s(30)), true),
    ];
    for (busy, until, next, want) in rows {
        assert_eq!(
            precision_needed(now, busy, until, next),
            want,
            "busy {busy}, until {until:?}, next {next:?}"
        );
    }
}

fn done(frames: u64) -> PartDecoded {
    PartDecoded {
        frames,
        error: None,
    }
}

#[test]
fn a_programme_cut_in_its_second_part_logs_played_interrupted_and_skipped_parts() {
    let p = programme();
    let start = p.item.scheduled_at;
    let decoded = [done(48_000), done(48_000)];
    let why = Some("interrupted by emergency u@1".to_string());
    let e = part_entries(&p, &decoded, start, 72_000, 48_000, why);
    let got: Vec<_> = e
        .iter()
        .map(|e| (e.id.as_str(), e.status, e.played_ms))
        .collect();
    assert_eq!(
        got,
        [
            ("p@1#1", PlayStatus::Played, 1000),
            ("p@1#2", PlayStatus::Interrupted, 500),
            ("p@1#3", PlayStatus::Skipped, 0),
        ]
    );
    assert!(e.iter().all(|e| e.part_of.as_deref() == Some("p@1")));
    assert_eq!(e[1].started_at, Some(start + CDuration::seconds(1)));
    assert_eq!(e[1].reason.as_deref(), Some("interrupted by emergency u@1"));
    assert_eq!(e[0].title, "part a");
    assert_eq!(e[2].planned_ms, Some(1000));
}

#[test]
fn a_part_that_would_not_decode_is_failed_and_the_next_starts_where_the_last_ended() {
    let p = programme();
    let start = p.item.scheduled_at;
    let decoded = [
        done(48_000),
        PartDecoded {
            frames: 0,
            error: Some("not audio".into()),
        },
        done(48_000),
    ];
    let e = part_entries(&p, &decoded, start, 96_000, 48_000, None);
    assert_eq!(e[1].status, PlayStatus::Failed);
    assert_eq!(e[1].reason.as_deref(), Some("not audio"));
    assert_eq!(e[2].status, PlayStatus::Played);
    assert_eq!(e[2].started_at, Some(start + CDuration::seconds(1)));
}
