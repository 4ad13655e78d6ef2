with

source as (

    select * from {{ source('raw', 'documents') }}

),

renamed as (

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

    from source

)

select * from renamed
