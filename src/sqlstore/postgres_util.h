#pragma once
// PostgreSQL plumbing shared by the scale-out stores (evidence, cognitive graphs), on libpqxx
// 6.4: PgConnection, a lazily (re)connected connection that runs a callable in a transaction,
// optionally scoped to one tenant for row-level security; and Migrate(), a one-shot
// administrative transaction for schema installation. libpqxx exceptions never leave this
// component: they become vv::Status values.
//
// Tenant scoping: a scoped transaction first runs `SET LOCAL vv.tenant_id = '<tenant>'`, which
// the stores' RLS policies (`tenant_id = current_setting('vv.tenant_id', true)`) compare with;
// the setting reverts at COMMIT/ROLLBACK, so it never leaks into the next transaction.

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/mutex.h"
#include "common/status.h"

namespace pqxx {
class transaction_base;
}  // namespace pqxx

namespace vv::sqlstore {

// A transaction body: runs its statements on `txn` and returns OK to commit; a non-OK status
// rolls the transaction back and is returned as is. It may throw libpqxx exceptions (they are
// converted, see PgConnection).
using TxnBody = std::function<Status(pqxx::transaction_base& txn)>;

// PgConnection: one connection to `url`, opened on first use and re-opened on the next call
// after it broke (server restart, network cut), so a store recovers without being rebuilt.
// Failures are reported as:
//   cannot connect                  -> Unavailable("<label>: cannot connect: <what>")
//   pqxx::broken_connection         -> Unavailable("<label>: <what>"), connection dropped
//   pqxx::sql_error                 -> Unavailable("<label>: <what>")
//   any other std::exception        -> `other_errors` ("<label>: <what>"), e.g. a conversion
// Thread-safety: thread-safe; a mutex serialises transactions on the one connection.
// Ownership: owns the connection.
class PgConnection {
 public:
  PgConnection(std::string url, std::string label,
               StatusCode other_errors = StatusCode::kInternal);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Connects now unless already connected.
  Status Connect() VV_EXCLUDES(mu_);
  // Runs `body` in a transaction that is not scoped to a tenant (RLS then shows no rows).
  Status InTransaction(const TxnBody& body);
  // Runs `body` in a transaction scoped to `tenant_id` (SET LOCAL vv.tenant_id first).
  Status InTenantTransaction(std::string_view tenant_id, const TxnBody& body);

 private:
  struct Conn;  // wraps pqxx::connection (a typedef of a template in libpqxx 6)
  Status ConnectLocked() VV_REQUIRES(mu_);
  Status Run(const std::string* tenant_id, const TxnBody& body) VV_EXCLUDES(mu_);

  const std::string url_;
  const std::string label_;
  const StatusCode other_errors_;
  Mutex mu_;
  std::unique_ptr<Conn> conn_ VV_GUARDED_BY(mu_);
};

// Scopes the rest of `txn` to `tenant_id` (SET LOCAL vv.tenant_id; reverts at COMMIT or
// ROLLBACK). InTenantTransaction does it first; a body of InTransaction may call it again to
// write several tenants' rows in one transaction, each statement under its own tenant.
// Throws libpqxx exceptions, like the other TxnBody helpers.
void ScopeToTenant(pqxx::transaction_base& txn, const std::string& tenant_id);

// Migration step for a tenant table: enables and forces row-level security on `table` and
// (re)creates its policy `<table>_tenant_isolation`, which shows and accepts only the rows
// whose tenant_id equals the transaction's vv.tenant_id (see InTenantTransaction). Idempotent.
// `table` is an identifier from our code, not input: it is not quoted.
// Call it inside a TxnBody (it throws libpqxx exceptions, which the runner converts).
void EnableTenantIsolation(pqxx::transaction_base& txn, const std::string& table);

// Migration step: grants `privileges` (e.g. "SELECT, INSERT") on `table`, and the use of its
// BIGSERIAL `seq` column's sequence (`<table>_seq_seq`), to `role` (quoted here). Call it
// inside a TxnBody, like EnableTenantIsolation.
void GrantTableAccess(pqxx::transaction_base& txn, const std::string& table,
                      const std::string& privileges, const std::string& role);

// Least privilege for a tenant table (issue 12): the role `conn` connects as must not be a
// superuser, must not have BYPASSRLS and must not own `table` (directly or through role
// membership: an owner can ALTER TABLE ... DISABLE / NO FORCE ROW LEVEL SECURITY). OK, or
// PermissionDenied("<label>: role '<r>' <problem>; ...") naming every problem found;
// Unavailable when the server cannot be asked.
Status RequireLeastPrivilege(PgConnection& conn, const std::string& table, std::string_view label);

// Runs `body` in one transaction on a fresh connection to `url` (closed afterwards): the
// schema-installation step. Failures: Unavailable("<label>: <what>") when the server cannot be
// reached or the connection breaks, Internal("<label> schema: <what>") for anything else.
// Thread-safety: thread-safe (no shared state).
Status Migrate(const std::string& url, std::string_view label, const TxnBody& body);

}  // namespace vv::sqlstore
