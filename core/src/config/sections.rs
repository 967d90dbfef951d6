//! The sections and options of `gnocchi.conf` (shared/spec/engine.md §8, shared/spec/api.md
//! §1.12, §1.13, §2.1): names, types, defaults and one-line help, in one table each.
//!
//! Durations are whole seconds unless the option's help says otherwise (as in Gnocchi).

use super::section::config_section;
use super::value::{choice_enum, list, s};

choice_enum! {
    /// `[api] auth_mode`: how callers are identified (shared/spec/api.md §2.1).
    AuthMode {
        /// HTTP Basic; the user name is trusted, the password ignored.
        Basic = "basic",
        /// The user name from a header set by a trusted fronting proxy.
        Remoteuser = "remoteuser",
        /// Keystone tokens.
        Keystone = "keystone",
        /// Trust `X-User-Id`/`X-Project-Id`/`X-Roles` (Gnocchi ≤ 3.1 compatibility).
        Noauth = "noauth",
    }
}

choice_enum! {
    /// `[api] uwsgi_mode`: the socket type of Gnocchi's uWSGI launcher (accepted, unused).
    UwsgiMode {
        /// Plain HTTP.
        Http = "http",
        /// HTTP over a socket behind a proxy.
        HttpSocket = "http-socket",
        /// The uwsgi protocol.
        Socket = "socket",
    }
}

choice_enum! {
    /// `[storage] driver` / `[incoming] driver`: where splits or incoming measures live.
    StorageDriver {
        /// Files under `file_basepath`.
        File = "file",
        /// A Ceph (RADOS) pool.
        Ceph = "ceph",
        /// Redis.
        Redis = "redis",
        /// Amazon S3 or compatible.
        S3 = "s3",
        /// OpenStack Swift.
        Swift = "swift",
    }
}

choice_enum! {
    /// `[storage] file_layout` (ours): how a new file store keeps its aggregates; a store keeps
    /// the layout it was created with.
    FileLayoutChoice {
        /// Many metrics per SQLite shard file (local filesystems).
        Packed = "packed",
        /// One file per split (shared network filesystems).
        Files = "files",
    }
}

choice_enum! {
    /// `[storage] swift_endpoint_type`: which Swift endpoint of the catalog to use.
    SwiftEndpointType {
        /// The public endpoint.
        PublicUrl = "publicURL",
        /// The internal endpoint.
        InternalUrl = "internalURL",
        /// The admin endpoint.
        AdminUrl = "adminURL",
    }
}

choice_enum! {
    /// `[amqp1d] data_source`: the message format consumed.
    Amqp1dDataSource {
        /// collectd's JSON format.
        Collectd = "collectd",
    }
}

config_section! {
    /// `[DEFAULT]`: logging, coordination and process-wide settings.
    pub struct DefaultSection("DEFAULT") {
        /// Log at DEBUG level (the default level is INFO).
        debug: bool = false;
        /// Log at INFO level; false logs only WARNING and above.
        verbose: bool = true;
        /// Directory where log files are written; unset logs to stderr.
        log_dir: Option<String> = None;
        /// Name of the log file (inside log_dir if set); unset logs to stderr.
        log_file: Option<String> = None;
        /// Log to syslog.
        use_syslog: bool = false;
        /// Log to the systemd journal.
        use_journal: bool = false;
        /// Syslog facility of the log lines sent to syslog.
        syslog_log_facility: String = s("user");
        /// Coordination backend URL (locks and worker membership); unset derives it from the storage.
        coordination_url: Option<String> = None, deprecated = [("storage", "coordination_url")],
            secret = true;
        /// Threads a process may use for parallel work; unset uses one per CPU.
        parallel_operations: Option<u32> = None, range = 1..,
            deprecated = [("storage", "aggregation_workers_number")];
        /// Seconds to wait for a graceful shutdown of worker processes before killing them.
        graceful_shutdown_timeout: u64 = 60;
        /// Log the value of every option at start-up.
        log_options: bool = true;
        /// Create the resource types Ceilometer used before it created its own (Gnocchi 3 option).
        create_legacy_resource_types: bool = false;
    }
}

config_section! {
    /// `[api]`: the HTTP API.
    pub struct ApiSection("api") {
        /// The address the API listens on.
        host: String = s("0.0.0.0");
        /// The port the API listens on.
        port: u16 = 8041;
        /// Socket type of Gnocchi's uWSGI launcher (accepted for compatibility, unused).
        uwsgi_mode: UwsgiMode = UwsgiMode::Http;
        /// Path to Gnocchi's uWSGI binary (accepted for compatibility, unused).
        uwsgi_path: Option<String> = None;
        /// Path to Gnocchi's API paste configuration (accepted for compatibility, unused).
        paste_config: String = s("api-paste.ini");
        /// Authentication mode: basic, remoteuser, keystone or noauth.
        auth_mode: AuthMode = AuthMode::Basic;
        /// Largest page size a listing returns, whatever limit the client asks for.
        max_limit: u32 = 1000, range = 1..;
        /// Seconds a request waits for a metric's processing lock or retries a conflicting creation.
        operation_timeout: u64 = 10, deprecated = [("api", "refresh_timeout")];
        /// Honour Forwarded / X-Forwarded-* headers from a reverse proxy.
        enable_proxy_headers_parsing: bool = false,
            deprecated = [("oslo_middleware", "enable_proxy_headers_parsing")];
        /// Header carrying the authenticated user name in remoteuser mode (set by a trusted proxy).
        remote_user_header: Option<String> = None;
        /// Largest accepted request body, in bytes.
        max_request_body_size: u64 = 64 * 1024 * 1024, range = 1..;
    }
}

config_section! {
    /// `[archive_policy]`: defaults applied to archive policies.
    pub struct ArchivePolicySection("archive_policy") {
        /// Aggregation methods used when an archive policy does not list any, and by the default policies.
        default_aggregation_methods: Vec<String> =
            list(&["mean", "min", "max", "sum", "std", "count"]);
    }
}

config_section! {
    /// `[indexer]`: the SQL database of resources, metrics and policies.
    pub struct IndexerSection("indexer") {
        /// Indexer database URL (sqlite:////absolute/path); unset reads GNOCCHI_INDEXER_URL.
        url: Option<String> = None, deprecated = [("database", "connection")], secret = true;
    }
}

config_section! {
    /// `[storage]` (aggregates) and, with the same options, `[incoming]` (pending measures).
    pub struct StorageSection("storage") {
        /// Storage driver: file, ceph, redis, s3 or swift.
        driver: StorageDriver = StorageDriver::File;
        /// Directory holding the data of the file driver.
        file_basepath: String = s("/var/lib/gnocchi");
        /// Number of characters of the metric id used as a sub-directory name (file driver).
        file_subdir_len: u32 = 2, range = 0..=32;
        /// Layout of a new file store: packed (SQLite shard files, local filesystems) or files (one file per split, for shared network filesystems). Ours.
        file_layout: FileLayoutChoice = FileLayoutChoice::Packed;
        /// Name of the Ceph pool holding the data.
        ceph_pool: String = s("gnocchi");
        /// Ceph user name, without its client. prefix.
        ceph_username: Option<String> = None;
        /// Secret key of the Ceph user.
        ceph_secret: Option<String> = None, secret = true;
        /// Path of the Ceph keyring file.
        ceph_keyring: Option<String> = None;
        /// Seconds before Ceph operations and connections time out.
        ceph_timeout: String = s("30");
        /// Path of the Ceph client configuration file.
        ceph_conffile: String = s("/etc/ceph/ceph.conf");
        /// URL of the Redis server (redis://host:port/db or a sentinel URL).
        redis_url: String = s("redis://localhost:6379/"), secret = true;
        /// URL of the S3 service; unset uses AWS.
        s3_endpoint_url: Option<String> = None;
        /// Region of the S3 service.
        s3_region_name: Option<String> = None;
        /// Access key id of the S3 account.
        s3_access_key_id: Option<String> = None, secret = true;
        /// Secret access key of the S3 account.
        s3_secret_access_key: Option<String> = None, secret = true;
        /// Prefix of the S3 bucket names created (at most 26 characters).
        s3_bucket_prefix: String = s("gnocchi");
        /// Seconds allowed for a freshly written S3 object to become visible.
        s3_check_consistency_timeout: f64 = 60.0;
        /// Size of the pool of S3 connections.
        s3_max_pool_connections: u32 = 50, range = 1..;
        /// Version of the Swift authentication protocol.
        swift_auth_version: String = s("1");
        /// Skip checking the TLS certificate of the Swift server.
        swift_auth_insecure: bool = false;
        /// URL of the Swift service; unset takes it from the Keystone catalog.
        swift_url: Option<String> = None;
        /// URL where Swift credentials are checked.
        swift_authurl: String = s("http://localhost:8080/auth/v1.0");
        /// A ready-made Swift token used instead of authenticating.
        swift_preauthtoken: Option<String> = None, secret = true;
        /// CA certificates bundle used to check the Swift server.
        swift_cacert: Option<String> = None;
        /// Region of the Swift service.
        swift_region: Option<String> = None;
        /// User name for Swift.
        swift_user: String = s("admin:admin");
        /// Domain of the Swift user.
        swift_user_domain_name: String = s("Default");
        /// Password (key) of the Swift user.
        swift_key: String = s("admin"), secret = true;
        /// Project (formerly tenant) of the Swift user.
        swift_project_name: Option<String> = None,
            deprecated = [("storage", "swift_tenant_name")];
        /// Domain of the Swift project.
        swift_project_domain_name: String = s("Default");
        /// Prefix of the Swift container names created.
        swift_container_prefix: String = s("gnocchi");
        /// Use the container prefix for every container, not only metric ones.
        swift_container_prefix_all: bool = false;
        /// Storage policy given to new Swift containers.
        swift_storage_policy: Option<String> = None;
        /// Swift endpoint type: publicURL, internalURL or adminURL.
        swift_endpoint_type: SwiftEndpointType = SwiftEndpointType::PublicUrl;
        /// Service type of Swift in the Keystone catalog.
        swift_service_type: String = s("object-store");
        /// Seconds before a request to Swift is abandoned.
        swift_timeout: u64 = 300;
    }
}

config_section! {
    /// `[metricd]`: the processing daemon.
    pub struct MetricdSection("metricd") {
        /// Processing workers to run; unset runs one per CPU.
        workers: Option<u32> = None, range = 1..;
        /// Seconds between two passes over the sacks looking for new measures.
        metric_processing_delay: u64 = 60, deprecated = [("storage", "metric_processing_delay")];
        /// Start processing as soon as the incoming driver announces new measures.
        greedy: bool = true;
        /// Seconds between two logs of the backlog size; -1 turns them off.
        metric_reporting_delay: i64 = 120, range = -1..,
            deprecated = [("storage", "metric_reporting_delay")];
        /// Seconds between two janitor runs expunging deleted metrics.
        metric_cleanup_delay: u64 = 300, deprecated = [("storage", "metric_cleanup_delay")];
        /// How many workers are assigned each sack.
        processing_replicas: u32 = 3, range = 1..;
        /// Most deleted metrics the janitor expunges in one run.
        cleanup_batch_size: u32 = 10000, range = 1..;
        /// Seconds without new measures after which a metric is considered inactive; 0 disables.
        metric_inactive_after: u64 = 0;
        /// Seconds after their end at which resources are deleted; 0 disables.
        resource_cleanup_after: u64 = 0;
    }
}

config_section! {
    /// `[cors]`: cross-origin resource sharing (oslo.middleware's options, shared/spec/api.md §1.13).
    pub struct CorsSection("cors") {
        /// Origins whose browsers may call the API (* for any); empty turns CORS off.
        allowed_origin: Vec<String> = Vec::new();
        /// Let browsers send credentials with cross-origin requests.
        allow_credentials: bool = true;
        /// Response headers that scripts of another origin may read.
        expose_headers: Vec<String> = Vec::new();
        /// Seconds a browser may cache a preflight answer.
        max_age: u64 = 3600;
        /// Methods other origins may use.
        allow_methods: Vec<String> =
            list(&["OPTIONS", "GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "PATCH"]);
        /// Request headers other origins may send.
        allow_headers: Vec<String> = list(&[
            "Authorization",
            "X-Auth-Token",
            "X-Subject-Token",
            "X-User-Id",
            "X-Domain-Id",
            "X-Project-Id",
            "X-Roles",
        ]);
    }
}

config_section! {
    /// `[oslo_policy]`: the policy file (shared/spec/api.md §2.3).
    pub struct OsloPolicySection("oslo_policy") {
        /// Path of the policy rules file, relative to the configuration file's directory.
        policy_file: String = s("policy.yaml");
        /// Apply the current default rules instead of the deprecated ones.
        enforce_new_defaults: bool = true;
    }
}

config_section! {
    /// `[statsd]`: the statsd daemon.
    pub struct StatsdSection("statsd") {
        /// The address statsd listens on.
        host: String = s("0.0.0.0");
        /// The UDP port statsd listens on.
        port: u16 = 8125;
        /// Resource UUID the statsd metrics are attached to (required to start statsd).
        resource_id: Option<String> = None;
        /// Creator of the statsd resource and metrics.
        creator: Option<String> = None;
        /// Archive policy of the statsd metrics; unset uses the archive policy rules.
        archive_policy_name: Option<String> = None;
        /// Seconds between two flushes of the received values.
        flush_delay: f64 = 10.0;
    }
}

config_section! {
    /// `[amqp1d]`: the AMQP 1.0 (collectd) daemon.
    pub struct Amqp1dSection("amqp1d") {
        /// AMQP 1.0 address the collectd messages are read from.
        url: String = s("localhost:5672/u/collectd/telemetry");
        /// Format of the consumed messages.
        data_source: Amqp1dDataSource = Amqp1dDataSource::Collectd;
        /// Resource type of the resources created for collectd hosts.
        resource_type: String = s("collectd_amqp1d");
        /// Creator of the resources and metrics.
        creator: Option<String> = None;
        /// Seconds between two flushes of the received values.
        flush_delay: f64 = 10.0;
    }
}

config_section! {
    /// `[keystone_authtoken]`: how `auth_mode = keystone` checks tokens (keystonemiddleware's
    /// option names; options only a Python middleware uses are accepted and ignored).
    pub struct KeystoneAuthtokenSection("keystone_authtoken") {
        /// Authentication plugin of the service user; only password is supported.
        auth_type: String = s("password"), deprecated = [("keystone_authtoken", "auth_plugin")];
        /// Keystone URL where the service user logs in (with or without the /v3 suffix).
        auth_url: Option<String> = None;
        /// Public Keystone URL sent to clients in the WWW-Authenticate header of a 401.
        www_authenticate_uri: Option<String> = None,
            deprecated = [("keystone_authtoken", "auth_uri")];
        /// Name of the service user.
        username: Option<String> = None;
        /// Id of the service user, used instead of its name when set.
        user_id: Option<String> = None;
        /// Password of the service user.
        password: Option<String> = None, secret = true;
        /// Project the service user's token is scoped to.
        project_name: Option<String> = None;
        /// Id of that project, used instead of its name when set.
        project_id: Option<String> = None;
        /// Domain name of the service user.
        user_domain_name: Option<String> = None;
        /// Domain id of the service user (default when neither domain option is set).
        user_domain_id: Option<String> = None;
        /// Domain name of the service user's project.
        project_domain_name: Option<String> = None;
        /// Domain id of the service user's project (default when neither domain option is set).
        project_domain_id: Option<String> = None;
        /// Region of the identity endpoint (accepted; auth_url is used as given).
        region_name: Option<String> = None;
        /// Seconds a validation result (valid or not) is reused, never past the token's expiry.
        token_cache_time: u64 = 300;
        /// Seconds to wait for Keystone to accept a connection and answer one request.
        http_connect_timeout: Option<u64> = None;
        /// Retries of a Keystone request that could not connect, before answering 503.
        http_request_max_retries: u32 = 3;
        /// CA certificates bundle used to check Keystone's TLS certificate.
        cafile: Option<String> = None;
        /// Skip checking Keystone's TLS certificate.
        insecure: bool = false;
        /// Which endpoint of the catalog to use (accepted, unused: auth_url is used).
        interface: String = s("internal");
        /// Memcached servers (accepted, unused: the token cache is in memory).
        memcached_servers: Vec<String> = Vec::new(),
            deprecated = [("keystone_authtoken", "memcache_servers")];
        /// Let requests without a valid token through (accepted, unused: they get 401).
        delay_auth_decision: bool = false;
        /// Identity API version to use (accepted, unused: v3 is used).
        auth_version: Option<String> = None;
        /// Put the service catalog in the request environment (accepted, unused).
        include_service_catalog: bool = true;
        /// Roles a service token must have (accepted, unused).
        service_token_roles: Vec<String> = list(&["service"]);
        /// Enforce service_token_roles (accepted, unused).
        service_token_roles_required: bool = false;
        /// Extensions the token must be bound to (accepted, unused).
        enforce_token_bind: String = s("permissive");
    }
}

/// The number of CPUs, the default of the options whose unset value means "one per CPU".
fn cpu_count() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
}

impl DefaultSection {
    /// `parallel_operations`, or the number of CPUs when unset.
    pub fn effective_parallel_operations(&self) -> u32 {
        self.parallel_operations.unwrap_or_else(cpu_count)
    }
}

impl MetricdSection {
    /// `workers`, or the number of CPUs when unset.
    pub fn effective_workers(&self) -> u32 {
        self.workers.unwrap_or_else(cpu_count)
    }
}
