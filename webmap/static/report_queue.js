// Reports made with no connection, kept on the phone (IndexedDB) until they are sent.
// Each entry: {key: its Idempotency-Key, fields: [[name, value|Blob], …], place: "…", created: ms}.
// The key is made when the resident presses "send", so sending it again later — after a reload, from
// another tab, after a lost answer — files one report (the API answers a repeated key with the first).
window.hromadaReportQueue = (function () {
  "use strict";
  const DB = "hromada-reports", STORE = "outbox";

  function open() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(STORE, {keyPath: "key"});
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function run(mode, action) {
    const db = await open();
    try {
      return await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const result = action(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(result && "result" in result ? result.result : undefined);
        tx.onerror = () => reject(tx.error);
        tx.onabort = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  }

  return {
    // FormData → a storable entry (Files are Blobs: IndexedDB keeps them as they are).
    add: (key, formData) => run("readwrite", (store) => store.put(
      {key, fields: [...formData.entries()], created: Date.now()})),
    all: () => run("readonly", (store) => store.getAll()),
    remove: (key) => run("readwrite", (store) => store.delete(key)),
    formData(entry) {
      const data = new FormData();
      for (const [name, value] of entry.fields) {
        if (value instanceof Blob) {
          if (value.size) data.append(name, value, value.name || "photo.jpg");  // an empty file input: none
        } else data.append(name, value);
      }
      return data;
    },
  };
})();
