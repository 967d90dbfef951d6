//! Decoding of text columns on every backend. MariaDB stores the indexer's text under
//! `utf8mb4_nopad_bin` (byte-wise order and equality, as SQLite's BINARY and PostgreSQL's "C"
//! collations), and flags such columns BINARY in result sets; sqlx's `String` refuses that
//! flag, so the shared statements decode text through [`Text`], which accepts it and still
//! checks the bytes are UTF-8.

use sqlx::decode::Decode;
use sqlx::error::BoxDynError;
use sqlx::mysql::{MySql, MySqlTypeInfo, MySqlValueRef};
use sqlx::postgres::{PgTypeInfo, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteTypeInfo, SqliteValueRef};
use sqlx::{ColumnIndex, Row, Type};

/// The value of a text column.
pub(crate) struct Text(pub(crate) String);

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.0
    }
}

impl Type<MySql> for Text {
    fn type_info() -> MySqlTypeInfo {
        <str as Type<MySql>>::type_info()
    }

    /// Text of any collation, binary ones included (the bytes are checked on decode).
    fn compatible(ty: &MySqlTypeInfo) -> bool {
        <[u8] as Type<MySql>>::compatible(ty)
    }
}

impl<'r> Decode<'r, MySql> for Text {
    fn decode(value: MySqlValueRef<'r>) -> Result<Self, BoxDynError> {
        <String as Decode<'r, MySql>>::decode(value).map(Text)
    }
}

impl Type<Postgres> for Text {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for Text {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <String as Decode<'r, Postgres>>::decode(value).map(Text)
    }
}

impl Type<Sqlite> for Text {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for Text {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <String as Decode<'r, Sqlite>>::decode(value).map(Text)
    }
}

/// The text in column `index` of `row`.
pub(crate) fn text<'r, R, I>(row: &'r R, index: I) -> Result<String, sqlx::Error>
where
    R: Row,
    I: ColumnIndex<R>,
    Text: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get::<Text, I>(index).map(|t| t.0)
}

/// The text, or NULL, in column `index` of `row`.
pub(crate) fn optional_text<'r, R, I>(row: &'r R, index: I) -> Result<Option<String>, sqlx::Error>
where
    R: Row,
    I: ColumnIndex<R>,
    Text: Decode<'r, R::Database> + Type<R::Database>,
{
    row.try_get::<Option<Text>, I>(index)
        .map(|t| t.map(|t| t.0))
}
