-- The current version of each collected item: per user and URL, the one fetched last.

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

)

select * from ranked where version_rank = 1
