with

source as (

    select * from {{ source('raw', 'crawl_runs') }}

),

renamed as (

    select
        ---------- ids
        crawl_run_id,
        user_id,

        ---------- text
        source,
        platform,
        status,
        error,
        errors,

        ---------- numerics
        documents_seen,
        documents_new,
        documents_changed,
        documents_unchanged,
        documents_failed,

        ---------- timestamps
        started_at,
        finished_at

    from source

)

select * from renamed
