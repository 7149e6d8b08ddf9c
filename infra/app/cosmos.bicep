// A serverless Cosmos DB for NoSQL account with vector and full-text search, and the one container
// of ServerlessMemory. The container's policy is ServerlessMemory.Cosmos.MemoryContainer's, which a
// test compares with this file's compiled template: change both together.
param accountName string
param location string
param tags object
param databaseName string
param containerName string

@description('Dimensions of the embeddings stored at /embedding.')
param embeddingDimensions int

@description('Principal id of the app\'s managed identity.')
param identityPrincipalId string

@description('Object id of the deploying user; empty to skip.')
param userPrincipalId string

// Cosmos DB Built-in Data Contributor (data plane: read and write items, no keys involved).
var dataContributorRoleId = '00000000-0000-0000-0000-000000000002'
var principalIds = concat([identityPrincipalId], empty(userPrincipalId) ? [] : [userPrincipalId])

resource account 'Microsoft.DocumentDB/databaseAccounts@2025-10-15' = {
  name: accountName
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: [
      {
        locationName: location
        failoverPriority: 0
        isZoneRedundant: false
      }
    ]
    consistencyPolicy: {
      defaultConsistencyLevel: 'Session'
    }
    capabilities: [
      {
        name: 'EnableServerless'
      }
      {
        name: 'EnableNoSQLVectorSearch'
      }
    ]
    disableLocalAuth: true
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    publicNetworkAccess: 'Enabled'
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2025-10-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
  }
}

resource container 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2025-10-15' = {
  parent: database
  name: containerName
  properties: {
    resource: {
      id: containerName
      partitionKey: {
        paths: [
          '/userId'
        ]
        kind: 'Hash'
        version: 2
      }
      // TTL on with no default: only documents that carry their own ttl expire.
      defaultTtl: -1
      indexingPolicy: {
        indexingMode: 'consistent'
        automatic: true
        includedPaths: [
          {
            path: '/*'
          }
        ]
        excludedPaths: [
          {
            path: '/embedding/*'
          }
          {
            path: '/"_etag"/?'
          }
          // Nothing queries these: no range index to write (and pay for) on every write.
          {
            path: '/content/?'
          }
          {
            path: '/metadata/*'
          }
          {
            path: '/blocks/*'
          }
          {
            path: '/summary/?'
          }
        ]
        // For the ORDER BY queries: a user's archive or messages newest first, and one session's.
        compositeIndexes: [
          [
            {
              path: '/userId'
              order: 'ascending'
            }
            {
              path: '/type'
              order: 'ascending'
            }
            {
              path: '/createdAt'
              order: 'descending'
            }
          ]
          [
            {
              path: '/userId'
              order: 'ascending'
            }
            {
              path: '/type'
              order: 'ascending'
            }
            {
              path: '/sessionId'
              order: 'ascending'
            }
            {
              path: '/createdAt'
              order: 'descending'
            }
          ]
        ]
        vectorIndexes: [
          {
            path: '/embedding'
            type: 'quantizedFlat'
          }
        ]
      }
      vectorEmbeddingPolicy: {
        vectorEmbeddings: [
          {
            path: '/embedding'
            dataType: 'float32'
            distanceFunction: 'cosine'
            dimensions: embeddingDimensions
          }
        ]
      }
    }
  }
}

resource dataContributors 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2025-10-15' = [
  for principalId in principalIds: {
    parent: account
    name: guid(account.id, principalId, dataContributorRoleId)
    properties: {
      roleDefinitionId: '${account.id}/sqlRoleDefinitions/${dataContributorRoleId}'
      principalId: principalId
      scope: account.id
    }
  }
]

output accountName string = account.name
output endpoint string = account.properties.documentEndpoint
output databaseName string = database.name
output containerName string = container.name
