//! The conformance suite on the PostgreSQL store (the local default).

mod conformance;

use conformance::{Graph, database};
use graph::store::PostgresGraph;

async fn postgres() -> Option<Graph<PostgresGraph>> {
    let database = database().await;
    Some(Graph::new(PostgresGraph::new(database.pool()), database))
}

conformance_cases!(postgres;
    a_path_crosses_a_discoverable_users_contacts,
    a_path_longer_than_max_hops_is_not_connected,
    the_shortest_path_is_returned,
    an_edge_is_crossed_against_its_direction,
    a_private_users_contacts_are_never_crossed,
    a_stranger_is_never_a_step_of_a_path,
    an_unknown_target_is_not_connected,
    a_target_is_found_by_email_person_or_user,
    persons_shown_to_be_one_are_merged_without_losing_edges,
    a_phone_or_profile_url_recognises_a_person,
    two_users_are_never_merged,
    a_registration_links_the_existing_person_and_names_its_owners,
    a_registration_without_earlier_contacts_names_nobody,
    events_before_the_registration_converge,
    an_older_profile_update_is_ignored,
    discoverable_can_be_turned_off_and_on,
    a_deleted_contact_stays_deleted_when_its_batch_comes_again,
    a_deletion_before_its_batch_wins,
    a_batch_applied_twice_adds_nothing,
    erasing_a_user_keeps_other_owners_entries,
    erasing_a_user_forgets_the_keys_only_they_brought,
    mutual_connections_are_the_people_both_know,
    suggestions_rank_by_mutual_connections,
    statistics_count_people_by_degree,
    the_ego_network_is_capped_and_says_so,
    a_search_past_its_budget_is_refused,
);
