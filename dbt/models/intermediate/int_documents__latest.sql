-- The current version of each collected item: per user and URL, the one fetched last (ties broken
-- by version id, so the pick is deterministic).

with

document_versions as (

    select * from {{ ref('stg_raw__documents') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by user_id, source_url
            order by fetched_at desc, document_version_id
        ) as version_rank

    from document_versions

),

latest as (

    select
        ---------- ids
        document_version_id,
        user_id,
        crawl_run_id,

        ---------- text
        platform,
        kind,
        source_url,
        title,
        content,
        content_hash,
        metadata,

        ---------- booleans
        is_own_writing,

        ---------- timestamps
        published_at,
        fetched_at

    from ranked
    where version_rank = 1

)

select * from latest
