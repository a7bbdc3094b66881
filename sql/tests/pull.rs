//! `mailstate pull` against local servers playing each provider's paging contract.
