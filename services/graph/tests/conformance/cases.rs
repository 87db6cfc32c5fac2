//! The conformance cases. Names in the networks: `me` asks; users are capitalised
//! (`Ann`), people who are only someone's contact are lowercase (`xavier`).

use std::collections::HashSet;

use graph::{
    network::{self, Limits, PathAnswer, Relation},
    store::{GraphStore, Target},
};
use uuid::Uuid;

use super::{Graph, LIMITS, contact, email};

// Cases on generated networks and event orders, and on a huge fan-out, live in
// modules of their own; named here so that `every_conformance_case!` finds every case in
// one place. (A test binary that runs none of them leaves the names unused.)
#[allow(unused_imports)]
pub use super::{
    convergence::{
        an_entry_naming_two_users_converges_with_their_registrations,
        deleting_the_entry_that_merged_two_persons_converges,
        erasing_the_owner_of_the_entry_that_merged_two_persons_converges,
        redelivered_and_reordered_events_converge,
    },
    fan_out::{
        a_discoverable_user_with_100000_contacts_leaves_answers_bounded,
        a_viewer_with_100000_contacts_gets_bounded_answers,
    },
    generated::{
        paths_agree_with_networkx_on_chains, paths_agree_with_networkx_on_disconnected_parts,
        paths_agree_with_networkx_on_small_worlds, paths_agree_with_networkx_on_stars,
    },
};

fn names(answer: &PathAnswer) -> Option<Vec<&str>> {
    match answer {
        PathAnswer::Connected { chain } => Some(chain.iter().map(|p| p.name.as_str()).collect()),
        PathAnswer::NotConnected => None,
    }
}

/// me → Ann (my contact, discoverable) → bob (Ann's contact).
pub async fn a_path_crosses_a_discoverable_users_contacts<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    graph.import(me, vec![contact("Ann A.", "ann@x.org")]).await;
    graph.import(ann, vec![contact("bob", "bob@x.org")]).await;

    let answer = graph.path(me, &email("bob@x.org"), 6).await;

    assert_eq!(names(&answer), Some(vec!["Me", "Ann A.", "bob"]));
    let PathAnswer::Connected { chain } = answer else {
        unreachable!()
    };
    let relations: Vec<Relation> = chain.iter().map(|p| p.relation).collect();
    assert_eq!(
        relations,
        vec![Relation::Me, Relation::Contact, Relation::Target]
    );
    assert_eq!(chain[0].user_id, Some(me));
    assert_eq!(chain[2].user_id, None);
}

/// A chain of five hops is found with `max_hops` 5 and not with 4.
pub async fn a_path_longer_than_max_hops_is_not_connected<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let mut previous = me;
    for index in 1..=4 {
        let user = graph
            .user(&format!("u{index}@x.org"), &format!("U{index}"), true)
            .await;
        graph
            .import(
                previous,
                vec![contact(&format!("U{index}"), &format!("u{index}@x.org"))],
            )
            .await;
        previous = user;
    }
    graph
        .import(previous, vec![contact("end", "end@x.org")])
        .await;

    assert!(matches!(
        graph.path(me, &email("end@x.org"), 4).await,
        PathAnswer::NotConnected
    ));
    let found = graph.path(me, &email("end@x.org"), 5).await;
    assert_eq!(names(&found).map(|chain| chain.len()), Some(6), "degree 5");
}

/// The shortest of two chains is returned.
pub async fn the_shortest_path_is_returned<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let ben = graph.user("ben@x.org", "Ben", true).await;
    let cat = graph.user("cat@x.org", "Cat", true).await;
    graph
        .import(
            me,
            vec![contact("Ann", "ann@x.org"), contact("Cat", "cat@x.org")],
        )
        .await;
    graph.import(ann, vec![contact("Ben", "ben@x.org")]).await;
    graph.import(ben, vec![contact("zoe", "zoe@x.org")]).await;
    graph.import(cat, vec![contact("zoe", "zoe@x.org")]).await;

    let answer = graph.path(me, &email("zoe@x.org"), 6).await;

    assert_eq!(names(&answer), Some(vec!["Me", "Cat", "zoe"]));
}

/// Edges are crossed in both directions: Ann imported me, so I reach Ann's
/// contacts through Ann although she is not in my address book.
pub async fn an_edge_is_crossed_against_its_direction<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    graph
        .import(
            ann,
            vec![contact("me", "me@x.org"), contact("bob", "bob@x.org")],
        )
        .await;

    assert_eq!(
        graph.path_names(me, &email("bob@x.org")).await,
        Some(vec!["Me".to_owned(), "Ann".to_owned(), "bob".to_owned()])
    );
}

/// Paths never cross a private user's contacts, even when that user is my contact.
pub async fn a_private_users_contacts_are_never_crossed<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", false).await;
    graph.import(me, vec![contact("Ann", "ann@x.org")]).await;
    graph.import(ann, vec![contact("bob", "bob@x.org")]).await;

    assert!(matches!(
        graph.path(me, &email("bob@x.org"), 6).await,
        PathAnswer::NotConnected
    ));
    assert_eq!(graph.stats(me).await.degree_2, 0);
    assert!(graph.mutuals(me, &email("bob@x.org")).await.is_empty());
}

/// A person who is neither my contact nor a discoverable user is never walked
/// through: Dan and Eve both know xavier, but a path me → Dan → xavier → Eve → zoe
/// would show xavier.
pub async fn a_stranger_is_never_a_step_of_a_path<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let dan = graph.user("dan@x.org", "Dan", true).await;
    let eve = graph.user("eve@x.org", "Eve", true).await;
    graph.import(me, vec![contact("Dan", "dan@x.org")]).await;
    graph
        .import(dan, vec![contact("xavier", "xavier@x.org")])
        .await;
    graph
        .import(
            eve,
            vec![
                contact("xavier", "xavier@x.org"),
                contact("zoe", "zoe@x.org"),
            ],
        )
        .await;

    assert!(matches!(
        graph.path(me, &email("zoe@x.org"), 6).await,
        PathAnswer::NotConnected
    ));
    // xavier himself may be the target.
    assert_eq!(
        graph.path_names(me, &email("xavier@x.org")).await,
        Some(vec!["Me".to_owned(), "Dan".to_owned(), "xavier".to_owned()])
    );
    // Once xavier is my contact, he may be walked through.
    graph
        .import(me, vec![contact("Xavier", "xavier@x.org")])
        .await;
    assert_eq!(
        graph.path_names(me, &email("zoe@x.org")).await,
        Some(vec![
            "Me".to_owned(),
            "Xavier".to_owned(),
            "Eve".to_owned(),
            "zoe".to_owned()
        ])
    );
}

/// Unknown targets and targets only a private user knows get the same answer.
pub async fn an_unknown_target_is_not_connected<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", false).await;
    graph
        .import(ann, vec![contact("secret", "secret@x.org")])
        .await;

    for target in [
        email("nobody@x.org"),
        email("secret@x.org"),
        Target::Person(Uuid::now_v7()),
        Target::User(Uuid::now_v7()),
    ] {
        assert!(
            matches!(graph.path(me, &target, 6).await, PathAnswer::NotConnected),
            "{target:?}"
        );
    }
}

/// The target may be named by e-mail, person id or user id.
pub async fn a_target_is_found_by_email_person_or_user<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    graph.import(me, vec![contact("Ann", "ann@x.org")]).await;
    let person = graph
        .person(&Target::User(ann))
        .await
        .expect("Ann's person");

    for target in [
        email("ANN@x.org"),
        Target::Person(person),
        Target::User(ann),
    ] {
        assert_eq!(
            graph.path_names(me, &target).await,
            Some(vec!["Me".to_owned(), "Ann".to_owned()]),
            "{target:?}"
        );
    }
}

/// Two persons that a later entry of a discoverable user shows to be one are
/// merged: both owners' edges now reach the one person, and the merged id still
/// finds it.
pub async fn persons_shown_to_be_one_are_merged_without_losing_edges<S: GraphStore>(
    graph: &Graph<S>,
) {
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let ben = graph.user("ben@x.org", "Ben", true).await;
    let me = graph.user("me@x.org", "Me", true).await;
    graph
        .import(ann, vec![contact("zoe (work)", "zoe@work.org")])
        .await;
    graph
        .import(ben, vec![contact("zoe (home)", "zoe@home.org")])
        .await;
    let work = graph.person(&email("zoe@work.org")).await.unwrap();
    let home = graph.person(&email("zoe@home.org")).await.unwrap();
    assert_ne!(work, home);

    let mut both = contact("Zoe", "zoe@work.org");
    both.emails.push("zoe@home.org".to_owned());
    graph.import(me, vec![both]).await;

    let merged = graph.person(&email("zoe@work.org")).await.unwrap();
    assert_eq!(graph.person(&email("zoe@home.org")).await, Some(merged));
    assert_eq!(graph.person(&Target::Person(work)).await, Some(merged));
    assert_eq!(graph.person(&Target::Person(home)).await, Some(merged));
    let mutual_names: HashSet<String> = graph
        .mutuals(me, &Target::Person(merged))
        .await
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        mutual_names,
        HashSet::new(),
        "Ann and Ben are not my contacts"
    );
    graph
        .import(
            me,
            vec![contact("Ann", "ann@x.org"), contact("Ben", "ben@x.org")],
        )
        .await;
    let mutual_names: HashSet<String> = graph
        .mutuals(me, &Target::Person(merged))
        .await
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        mutual_names,
        HashSet::from(["Ann".to_owned(), "Ben".to_owned()])
    );
}

/// An entry of a user who is not discoverable joins nobody: others' entries of
/// its addresses stay two persons (a private address book shapes no one else's
/// answers), until the owner becomes discoverable, and again after.
pub async fn a_private_entry_joins_no_persons<S: GraphStore>(graph: &Graph<S>) {
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let ben = graph.user("ben@x.org", "Ben", true).await;
    let pat = graph.user("pat@x.org", "Pat", false).await;
    graph
        .import(ann, vec![contact("zoe (work)", "zoe@work.org")])
        .await;
    graph
        .import(ben, vec![contact("zoe (home)", "zoe@home.org")])
        .await;
    let mut both = contact("Zoe", "zoe@work.org");
    both.emails.push("zoe@home.org".to_owned());
    graph.import(pat, vec![both]).await;

    let work = graph.person(&email("zoe@work.org")).await.unwrap();
    let home = graph.person(&email("zoe@home.org")).await.unwrap();
    assert_ne!(work, home, "Pat's entry is no evidence for anyone else");
    assert_eq!(
        graph.path_names(pat, &email("zoe@home.org")).await,
        None,
        "nor for Pat: Pat's entry is on the person of its first address"
    );
    assert_eq!(
        graph.path_names(pat, &email("zoe@work.org")).await,
        Some(vec!["Pat".to_owned(), "Zoe".to_owned()])
    );

    graph.profile(pat, "Pat", true).await;
    let merged = graph.person(&email("zoe@work.org")).await.unwrap();
    assert_eq!(graph.person(&email("zoe@home.org")).await, Some(merged));

    graph.profile(pat, "Pat", false).await;
    assert_ne!(
        graph.person(&email("zoe@work.org")).await,
        graph.person(&email("zoe@home.org")).await,
        "the merge goes with the evidence"
    );
}

/// A phone number or profile URL recognises a person as well as an e-mail.
pub async fn a_phone_or_profile_url_recognises_a_person<S: GraphStore>(graph: &Graph<S>) {
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let mut by_phone = contact("zoe", "zoe@x.org");
    by_phone.phones.push("+447700900123".to_owned());
    let mut by_url = contact("yan", "yan@x.org");
    by_url.profile_url = Some("linkedin.com/in/yan".to_owned());
    graph.import(ann, vec![by_phone, by_url]).await;
    let zoe = graph.person(&email("zoe@x.org")).await.unwrap();
    let yan = graph.person(&email("yan@x.org")).await.unwrap();

    let me = graph.user("me@x.org", "Me", false).await;
    let mut zoe_phone_only = contact("Zoe", "other@x.org");
    zoe_phone_only.emails.clear();
    zoe_phone_only.phones.push("+447700900123".to_owned());
    let mut yan_url_only = contact("Yan", "other@x.org");
    yan_url_only.emails.clear();
    yan_url_only.profile_url = Some("linkedin.com/in/yan".to_owned());
    graph.import(me, vec![zoe_phone_only, yan_url_only]).await;

    let viewer = graph.viewer(me).await;
    assert!(viewer.contacts.contains_key(&zoe));
    assert!(viewer.contacts.contains_key(&yan));
}

/// Two users are never merged, even when an entry carries both their addresses.
pub async fn two_users_are_never_merged<S: GraphStore>(graph: &Graph<S>) {
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let ben = graph.user("ben@x.org", "Ben", true).await;
    let me = graph.user("me@x.org", "Me", false).await;
    let mut both = contact("Ann or Ben", "ann@x.org");
    both.emails.push("ben@x.org".to_owned());
    graph.import(me, vec![both]).await;

    let ann_person = graph.person(&Target::User(ann)).await.unwrap();
    let ben_person = graph.person(&Target::User(ben)).await.unwrap();
    assert_ne!(ann_person, ben_person);
    assert_eq!(graph.person(&email("ben@x.org")).await, Some(ben_person));
    assert!(
        graph.viewer(me).await.contacts.contains_key(&ann_person),
        "the first key wins"
    );
}

/// A registration links the person others already had in their contacts and
/// names those owners, once each, not the user.
pub async fn a_registration_links_the_existing_person_and_names_its_owners<S: GraphStore>(
    graph: &Graph<S>,
) {
    let ann = graph.user("ann@x.org", "Ann", false).await;
    let ben = graph.user("ben@x.org", "Ben", false).await;
    graph.import(ann, vec![contact("zoe", "zoe@x.org")]).await;
    graph
        .import(ben, vec![contact("Zoe B.", "Zoe@X.org")])
        .await;
    let person = graph.person(&email("zoe@x.org")).await.unwrap();

    let zoe = Uuid::now_v7();
    let joined = graph.register(zoe, "zoe@x.org", "Zoe").await;

    let mut owners: Vec<Uuid> = joined.iter().map(|owner| owner.owner_id).collect();
    owners.sort_unstable();
    let mut expected = vec![ann, ben];
    expected.sort_unstable();
    assert_eq!(owners, expected);
    assert!(joined.iter().all(|owner| owner.person_id == person));
    assert_eq!(graph.person(&Target::User(zoe)).await, Some(person));
    assert!(
        graph.register(zoe, "zoe@x.org", "Zoe").await.is_empty(),
        "a second time, nobody"
    );
}

/// A user's own address book may name them (self-import): no one is announced.
pub async fn a_registration_without_earlier_contacts_names_nobody<S: GraphStore>(graph: &Graph<S>) {
    assert!(
        graph
            .register(Uuid::now_v7(), "new@x.org", "New")
            .await
            .is_empty()
    );
}

/// Contacts and profile events may come before the registration: the same graph
/// results.
pub async fn events_before_the_registration_converge<S: GraphStore>(graph: &Graph<S>) {
    let ann = Uuid::now_v7();
    let me = graph.user("me@x.org", "Me", false).await;
    graph.import(me, vec![contact("Ann", "ann@x.org")]).await;
    graph.import(ann, vec![contact("bob", "bob@x.org")]).await;
    graph.profile(ann, "Ann", true).await;
    let joined = graph.register(ann, "ann@x.org", "Ann at signup").await;

    assert_eq!(
        joined.iter().map(|o| o.owner_id).collect::<Vec<_>>(),
        vec![me]
    );
    assert_eq!(
        graph.path_names(me, &email("bob@x.org")).await,
        Some(vec!["Me".to_owned(), "Ann".to_owned(), "bob".to_owned()])
    );
    let ann_person = graph.person(&Target::User(ann)).await.unwrap();
    let facts = graph.store.describe(&[ann_person]).await.unwrap();
    assert_eq!(
        facts[&ann_person].display_name.as_deref(),
        Some("Ann"),
        "the profile's name stays"
    );
}

/// An older profile update arriving late changes nothing.
pub async fn an_older_profile_update_is_ignored<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    graph.import(me, vec![contact("Ann", "ann@x.org")]).await;
    graph.import(ann, vec![contact("bob", "bob@x.org")]).await;
    let earlier = chrono::Utc::now() - chrono::Duration::days(365);

    graph.profile_at(ann, "Ann (old)", false, earlier).await;

    assert!(
        graph.path_names(me, &email("bob@x.org")).await.is_some(),
        "still discoverable"
    );
}

/// Turning `discoverable` off closes the user's network at once; on opens it.
pub async fn discoverable_can_be_turned_off_and_on<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    graph.import(me, vec![contact("Ann", "ann@x.org")]).await;
    graph.import(ann, vec![contact("bob", "bob@x.org")]).await;
    assert!(graph.path_names(me, &email("bob@x.org")).await.is_some());

    graph.profile(ann, "Ann", false).await;
    assert!(graph.path_names(me, &email("bob@x.org")).await.is_none());

    graph.profile(ann, "Ann", true).await;
    assert!(graph.path_names(me, &email("bob@x.org")).await.is_some());
}

/// A deleted contact's edge goes, and the batch applied again does not bring it
/// back.
pub async fn a_deleted_contact_stays_deleted_when_its_batch_comes_again<S: GraphStore>(
    graph: &Graph<S>,
) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let batch = graph.import(me, vec![contact("Ann", "ann@x.org")]).await;
    graph.import(ann, vec![contact("bob", "bob@x.org")]).await;

    graph
        .delete_contact(&batch, batch.contacts[0].contact_id)
        .await;
    graph.apply(&batch).await;

    assert!(graph.viewer(me).await.contacts.is_empty());
    assert!(graph.path_names(me, &email("bob@x.org")).await.is_none());
}

/// A deletion that arrives before its batch wins too.
pub async fn a_deletion_before_its_batch_wins<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let batch = six_events::importer::ContactsImported {
        import_id: Uuid::now_v7(),
        owner_id: me,
        batch_seq: 0,
        contacts: vec![contact("Ann", "ann@x.org"), contact("Ben", "ben@x.org")],
    };
    graph
        .delete_contact(&batch, batch.contacts[0].contact_id)
        .await;
    graph.apply(&batch).await;

    let viewer = graph.viewer(me).await;
    let names: Vec<&str> = viewer
        .contacts
        .values()
        .map(|c| c.full_name.as_str())
        .collect();
    assert_eq!(names, vec!["Ben"]);
}

/// A batch applied twice adds nothing the second time.
pub async fn a_batch_applied_twice_adds_nothing<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let batch = graph
        .import(
            me,
            vec![contact("Ann", "ann@x.org"), contact("Ben", "ben@x.org")],
        )
        .await;
    let before = graph.stats(me).await;

    graph.apply(&batch).await;

    assert_eq!(graph.stats(me).await, before);
    assert_eq!(graph.viewer(me).await.contacts.len(), 2);
}

/// Erasing a user removes every edge they own and their account, keeps other
/// owners' entries of them, and ignores their later events.
pub async fn erasing_a_user_keeps_other_owners_entries<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    graph
        .import(me, vec![contact("Ann (mine)", "ann@x.org")])
        .await;
    let late = graph.import(ann, vec![contact("bob", "bob@x.org")]).await;
    let ann_person = graph.person(&Target::User(ann)).await.unwrap();

    graph.erase(ann).await;
    graph.apply(&late).await;
    graph.profile(ann, "Ann", true).await;
    graph.register(ann, "ann@x.org", "Ann").await;

    assert_eq!(
        graph.person(&Target::User(ann)).await,
        None,
        "no account link"
    );
    assert_eq!(
        graph.person(&email("bob@x.org")).await,
        None,
        "bob only came from Ann"
    );
    assert!(graph.path_names(me, &email("bob@x.org")).await.is_none());
    assert_eq!(
        graph.person(&email("ann@x.org")).await,
        Some(ann_person),
        "my entry of Ann keeps her as my contact"
    );
    let facts = graph.store.describe(&[ann_person]).await.unwrap();
    assert_eq!(facts[&ann_person].user_id, None);
    assert_eq!(facts[&ann_person].display_name, None);
    assert_eq!(
        graph.path_names(me, &email("ann@x.org")).await,
        Some(vec!["Me".to_owned(), "Ann (mine)".to_owned()])
    );
}

/// A person only the erased user knew leaves no key behind.
pub async fn erasing_a_user_forgets_the_keys_only_they_brought<S: GraphStore>(graph: &Graph<S>) {
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let mut zoe = contact("zoe", "zoe@x.org");
    zoe.phones.push("+447700900999".to_owned());
    graph.import(ann, vec![zoe]).await;
    let ben = graph.user("ben@x.org", "Ben", true).await;
    graph.import(ben, vec![contact("Zoe", "zoe@x.org")]).await;

    graph.erase(ann).await;

    assert!(
        graph.person(&email("zoe@x.org")).await.is_some(),
        "Ben still knows Zoe"
    );
    assert_eq!(
        graph
            .person(&Target::Key(
                graph::identity::IdentityKey::phone("+447700900999").unwrap()
            ))
            .await,
        None,
        "the phone number came only from Ann's entry"
    );
    assert_eq!(
        graph.person(&email("ann@x.org")).await,
        None,
        "nobody else knows Ann"
    );
}

/// Mutual connections: the people both I and the other are connected to.
pub async fn mutual_connections_are_the_people_both_know<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let ben = graph.user("ben@x.org", "Ben", true).await;
    let cat = graph.user("cat@x.org", "Cat", false).await;
    graph
        .import(
            me,
            vec![
                contact("Ann", "ann@x.org"),
                contact("Ben", "ben@x.org"),
                contact("Cat", "cat@x.org"),
            ],
        )
        .await;
    graph.import(ann, vec![contact("zoe", "zoe@x.org")]).await;
    graph.import(ben, vec![contact("zoe", "zoe@x.org")]).await;
    graph.import(cat, vec![contact("zoe", "zoe@x.org")]).await;

    let mutuals: HashSet<String> = graph
        .mutuals(me, &email("zoe@x.org"))
        .await
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        mutuals,
        HashSet::from(["Ann".to_owned(), "Ben".to_owned()]),
        "not private Cat"
    );
}

/// Suggestions: discoverable users two steps away, ranked by mutual connections,
/// never my contacts, never a private user.
pub async fn suggestions_rank_by_mutual_connections<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let ben = graph.user("ben@x.org", "Ben", true).await;
    let _dan = graph.user("dan@x.org", "Dan", true).await;
    let _eve = graph.user("eve@x.org", "Eve", true).await;
    let _pat = graph.user("pat@x.org", "Pat", false).await;
    graph
        .import(
            me,
            vec![contact("Ann", "ann@x.org"), contact("Ben", "ben@x.org")],
        )
        .await;
    graph
        .import(
            ann,
            vec![
                contact("Dan", "dan@x.org"),
                contact("Eve", "eve@x.org"),
                contact("Pat", "pat@x.org"),
                contact("xavier", "x@x.org"),
                contact("Ben", "ben@x.org"),
            ],
        )
        .await;
    graph
        .import(
            ben,
            vec![contact("Dan", "dan@x.org"), contact("Pat", "pat@x.org")],
        )
        .await;

    let suggestions: Vec<(String, usize)> = graph
        .suggestions(me)
        .await
        .into_iter()
        .map(|s| (s.person.name, s.mutual_connections))
        .collect();

    assert_eq!(
        suggestions,
        vec![("Dan".to_owned(), 2), ("Eve".to_owned(), 1)]
    );
}

/// Statistics count the people whose shortest path has 1, 2 and 3 hops.
pub async fn statistics_count_people_by_degree<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let ben = graph.user("ben@x.org", "Ben", true).await;
    graph
        .import(
            me,
            vec![contact("Ann", "ann@x.org"), contact("c1", "c1@x.org")],
        )
        .await;
    graph
        .import(
            ann,
            vec![
                contact("Ben", "ben@x.org"),
                contact("c1", "c1@x.org"),
                contact("d2", "d2@x.org"),
            ],
        )
        .await;
    graph
        .import(
            ben,
            vec![contact("e3", "e3@x.org"), contact("f3", "f3@x.org")],
        )
        .await;

    let stats = graph.stats(me).await;

    assert_eq!((stats.degree_1, stats.degree_2, stats.degree_3), (2, 2, 2));
    for (target, degree) in [("c1@x.org", 1), ("d2@x.org", 2), ("e3@x.org", 3)] {
        let found = graph
            .path_names(me, &email(target))
            .await
            .map(|chain| chain.len() - 1);
        assert_eq!(found, Some(degree), "{target}");
    }
}

/// The ego network shows me, my connections and the discoverable users two steps
/// away, with the edges between them, within the cap it states.
pub async fn the_ego_network_is_capped_and_says_so<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let ann = graph.user("ann@x.org", "Ann", true).await;
    let _dan = graph.user("dan@x.org", "Dan", true).await;
    graph
        .import(
            me,
            vec![
                contact("Ann", "ann@x.org"),
                contact("b", "b@x.org"),
                contact("c", "c@x.org"),
            ],
        )
        .await;
    graph
        .import(
            ann,
            vec![
                contact("Dan", "dan@x.org"),
                contact("b", "b@x.org"),
                contact("stranger", "s@x.org"),
            ],
        )
        .await;

    let whole = graph.ego(me, LIMITS).await;
    let names: HashSet<&str> = whole.nodes.iter().map(|n| n.person.name.as_str()).collect();
    assert_eq!(
        names,
        HashSet::from(["Me", "Ann", "b", "c", "Dan"]),
        "no stranger"
    );
    assert_eq!(whole.edges.len(), 5, "me-Ann, me-b, me-c, Ann-b, Ann-Dan");
    assert!(!whole.truncated);

    let capped = graph
        .ego(
            me,
            Limits {
                ego_max_nodes: 3,
                ..LIMITS
            },
        )
        .await;
    assert_eq!(capped.nodes.len(), 3);
    assert_eq!(
        (capped.node_cap, capped.nodes_available, capped.truncated),
        (3, 4, true)
    );
    let shown: HashSet<uuid::Uuid> = capped.nodes.iter().map(|n| n.person.person_id).collect();
    assert!(
        capped
            .edges
            .iter()
            .all(|(a, b)| shown.contains(a) && shown.contains(b))
    );
}

/// The search stops with an error past its budget instead of walking on.
pub async fn a_search_past_its_budget_is_refused<S: GraphStore>(graph: &Graph<S>) {
    let me = graph.user("me@x.org", "Me", false).await;
    let hub = graph.user("hub@x.org", "Hub", true).await;
    graph.import(me, vec![contact("Hub", "hub@x.org")]).await;
    let many: Vec<_> = (0..50)
        .map(|i| contact(&format!("p{i}"), &format!("p{i}@x.org")))
        .collect();
    graph.import(hub, many).await;
    let viewer = graph.viewer(me).await;

    let answer = network::path(
        &graph.store,
        &viewer,
        &email("nobody-known@x.org"),
        6,
        Limits {
            max_visited: 10,
            ..LIMITS
        },
    )
    .await;
    assert!(
        answer.is_ok(),
        "searching for an unknown target reaches only the hub"
    );
    let answer = network::stats(
        &graph.store,
        &viewer,
        Limits {
            max_visited: 10,
            ..LIMITS
        },
    )
    .await;
    assert!(matches!(
        answer,
        Err(network::NetworkError::TooBroad { limit: 10 })
    ));
}
